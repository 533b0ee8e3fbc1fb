// `import MLS` is all an application needs: the cipher suites, signers and secret bytes of
// MLSCrypto and the codec errors of MLSCodec are part of the API (their engine internals are SPI).
@_exported @_spi(Engine) import MLSCodec
@_exported import MLSCrypto
