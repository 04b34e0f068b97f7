/* nnguard/keys.h - secret keys: generation, key files, passphrase keys.
 *
 * A key is 256 bits (Deep-Lock `ctr`) or 128 bits (Deep-Lock `expand`, the paper's
 * AES-128 key schedule), drawn from the OS CSPRNG (libsodium randombytes_buf), or
 * derived from a passphrase with Argon2id (crypto_pwhash; salt and costs are stored
 * in the protected model's metadata, so the same passphrase gives the same key).
 *
 * Key file format (text, ASCII, '\n' line ends, exactly these lines in this order,
 * created with mode 0600 and never overwritten; a file readable or writable by
 * group/others is refused with NG_E_PERM):
 *
 *   nnguard-key v1
 *   bits: 256                       (or 128)
 *   key: <bits/4 lowercase hex digits>
 *   check: <16 hex digits>          first 8 bytes of BLAKE2b-256(key = K, "nnguard-key-check-v1")
 *
 * or, sealed with a passphrase (nnguard keygen --passphrase-file F):
 *
 *   nnguard-key v1
 *   bits: 256
 *   kdf: argon2id <salt: 32 hex digits> <opslimit> <memlimit in bytes>
 *   sealed: <hex of 24-byte nonce | crypto_secretbox_easy(K) (XSalsa20-Poly1305)>
 *
 * A file that does not follow this exactly (wrong magic, length, hex, check value or
 * MAC) is NG_E_KEY naming the file. Keys live in an ng_key value; wipe it with
 * ng_key_wipe() when done. Keys are never printed.
 *
 *     ng_key k;
 *     ng_key_generate(256, &k);
 *     ng_key_save(&k, "model.key", NULL, 0);     // refuses to overwrite
 *     ng_key_wipe(&k);
 *     ng_key_load("model.key", NULL, 0, &k);     // refuses group/other-readable files
 */
#ifndef NNGUARD_KEYS_H
#define NNGUARD_KEYS_H
#include <stddef.h>
#include <stdint.h>
#include "status.h"

#define NG_KEY_MAX_BYTES 32
#define NG_KEY_FILE_MAX 4096   /* larger key files are refused */
#define NG_KDF_MAX_OPSLIMIT 32                    /* Argon2id costs accepted from files */
#define NG_KDF_MAX_MEMLIMIT ((uint64_t)1 << 30)   /* 1 GiB */

typedef struct ng_key {
    uint8_t k[NG_KEY_MAX_BYTES];
    size_t  len;               /* 16 or 32 */
} ng_key;

/* Argon2id parameters of a passphrase key. */
typedef struct ng_kdf_params {
    uint8_t  salt[16];
    uint64_t opslimit;
    uint64_t memlimit;         /* bytes */
} ng_kdf_params;

/* A fresh random salt with libsodium's "interactive" costs (opslimit 2, 64 MiB). */
void ng_kdf_params_new(ng_kdf_params *p);

/* New random key of 128 or 256 bits. */
ng_status ng_key_generate(int bits, ng_key *out);
/* Derive a bits-bit key from a passphrase with Argon2id (crypto_pwhash). */
ng_status ng_key_from_passphrase(const char *pass, size_t pass_len, const ng_kdf_params *p, int bits,
                                 ng_key *out);
/* Write a key file (mode 0600, refuses to overwrite: NG_E_EXISTS); sealed when pass != NULL. */
ng_status ng_key_save(const ng_key *k, const char *path, const char *pass, size_t pass_len);
/* Read a key file (NG_E_PERM when group/others may read or write it); pass for sealed files. */
ng_status ng_key_load(const char *path, const char *pass, size_t pass_len, ng_key *out);
/* Parse key file bytes from memory; name is used in messages. */
ng_status ng_key_parse(const void *buf, size_t len, const char *name, const char *pass, size_t pass_len,
                       ng_key *out);
/* Wipe a key (sodium_memzero). */
void      ng_key_wipe(ng_key *k);

/* Read a passphrase: from file (first line, without its newline; the file must be 0600 like a
 * key file) or, when file is NULL, from the terminal without echo (prompt on /dev/tty).
 * *out is malloc'ed; release it with ng_passphrase_free (wipes it). */
ng_status ng_passphrase_read(const char *file, const char *prompt, char **out, size_t *len);
void      ng_passphrase_free(char *p, size_t len);

#endif
