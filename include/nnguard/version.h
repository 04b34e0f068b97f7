/* nnguard/version.h - the library version, as the ONNX producer_version and `nnguard --version` give it. */
#ifndef NNGUARD_VERSION_H
#define NNGUARD_VERSION_H
#define NNGUARD_VERSION "0.1.0"
#endif
