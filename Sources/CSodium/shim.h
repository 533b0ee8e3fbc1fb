#ifndef MLSKIT_CSODIUM_SHIM_H
#define MLSKIT_CSODIUM_SHIM_H
#include <sodium.h>
#endif
