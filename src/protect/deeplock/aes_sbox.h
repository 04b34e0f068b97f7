/* protect/aes_sbox.h - the AES S-box (FIPS-197 SubBytes) and its inverse over byte arrays.
 *
 * Deep-Lock locks a byte b under key byte k as S(b XOR k) and unlocks c as S^-1(c) XOR k.
 * Three implementations give identical bytes: a portable 256-entry table; AES-NI (SubBytes of
 * 16 bytes = AESENCLAST with a zero round key after undoing ShiftRows; InvSubBytes = AESDECLAST
 * with a zero round key after ShiftRows); and VAES + AVX-512BW, the same on 64 bytes at a
 * time. Chosen at run time with __builtin_cpu_supports. dst may equal src (in place); n is any
 * length.
 */
#ifndef NG_PROTECT_AES_SBOX_H
#define NG_PROTECT_AES_SBOX_H
#include <stddef.h>
#include <stdint.h>

/* AUTO = the fastest available; an unavailable choice falls back (VAES -> NI -> PORTABLE). */
typedef enum ng_aes_impl { NG_AES_AUTO = 0, NG_AES_PORTABLE, NG_AES_NI, NG_AES_VAES } ng_aes_impl;

extern const uint8_t ng_aes_sbox[256];
extern const uint8_t ng_aes_inv_sbox[256];

/* 1 when this CPU has AES-NI and SSSE3 (the NG_AES_NI path may be used). */
int ng_aes_ni_available(void);
/* 1 when this CPU has VAES and AVX-512BW (the NG_AES_VAES path may be used). */
int ng_aes_vaes_available(void);
/* The implementation NG_AES_AUTO resolves to ("vaes", "aes-ni" or "portable"). */
const char *ng_aes_impl_name(void);

/* dst[i] = S(src[i] ^ ks[i]) (lock); ks may be NULL for plain SubBytes. */
void ng_aes_sub_xor(uint8_t *dst, const uint8_t *src, const uint8_t *ks, size_t n, ng_aes_impl impl);
/* dst[i] = S^-1(src[i]) ^ ks[i] (unlock); ks may be NULL for plain InvSubBytes. */
void ng_aes_inv_sub_xor(uint8_t *dst, const uint8_t *src, const uint8_t *ks, size_t n, ng_aes_impl impl);

#endif
