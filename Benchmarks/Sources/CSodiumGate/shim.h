#ifndef MLSKIT_CSODIUM_GATE_SHIM_H
#define MLSKIT_CSODIUM_GATE_SHIM_H
// libsodium for instruction-gate only: it replaces libsodium's random source with a seeded
// one (randombytes_set_implementation) so that counted runs are identical.
#include <sodium.h>
#endif
