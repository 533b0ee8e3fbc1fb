// `import MLS` is all an application needs: the cipher suites, signers and secret bytes of
// MLSCrypto and the codec errors of MLSCodec are part of the API (their engine internals are SPI).
// The codec is re-exported with its SPI so that `@_spi(Engine) import MLS` (the CLI, the tests,
// the fuzz and benchmark packages) also sees the TLS protocols the wire types conform to; a plain
// `import MLS` does not.
@_exported @_spi(Engine) import MLSCodec
@_exported import MLSCrypto
