/* protect/keyfile.h - reading secret files (key files, passphrases, identities). */
#ifndef NG_PROTECT_KEYFILE_H
#define NG_PROTECT_KEYFILE_H
#include <stddef.h>
#include <stdint.h>
#include "nnguard/status.h"

/* Read a secret file of at most NG_KEY_FILE_MAX bytes into *data (sodium_malloc'ed: release it
 * with sodium_free, which wipes it), refusing a file group/others may read or write (NG_E_PERM). */
ng_status ng_secret_file_read(const char *path, uint8_t **data, size_t *len);
#endif
