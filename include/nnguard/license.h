/* nnguard/license.h - identities and signed licenses for sealed models (nnguard/seal.h).
 *
 * An identity is two key pairs from libsodium: Ed25519 (crypto_sign) to sign licenses and
 * X25519 (crypto_box) to receive model keys. A license is a text file signed by its issuer with
 * Ed25519 that names the licensee, the sealed model (nnguard.seal.id) and an expiry date, and
 * carries the model's 256-bit key sealed to the licensee's X25519 key (crypto_box_seal: only the
 * licensee's secret opens it). It is verified offline when the model is opened.
 *
 * Identity file (secret; created 0600, never overwritten; refused when group/others may read it):
 *   nnguard-identity v1
 *   sign-public: <64 hex>          Ed25519 public key
 *   box-public: <64 hex>           X25519 public key
 *   sign-secret: <128 hex>         Ed25519 secret key (libsodium's seed | public form)
 *   box-secret: <64 hex>           X25519 secret key
 * Public identity file (ME.pub; mode 0644):
 *   nnguard-identity-public v1
 *   sign-public: <64 hex>
 *   box-public: <64 hex>
 * License file (all lines exactly in this order, lowercase hex, '\n' line ends):
 *   nnguard-license v1
 *   issuer: <64 hex>               issuer's Ed25519 public key
 *   licensee-sign: <64 hex>        licensee's Ed25519 public key
 *   licensee-box: <64 hex>         licensee's X25519 public key
 *   model: <64 hex>                nnguard.seal.id of the sealed model
 *   expires: YYYY-MM-DD            valid until the end of that day, UTC
 *   classes: 0,1,2                 optional: the classes granted, decimal, strictly ascending, no
 *                                  leading zeros, each < NG_SEAL_LICENSE_MAX_CLASSES; absent: all classes
 *   key: <160 hex>                 crypto_box_seal(model key, licensee-box): 80 bytes
 *   signature: <128 hex>           Ed25519 (crypto_sign_detached) by issuer over every byte above
 * Opening a model with a license checks, in this order: the license parses (NG_E_FORMAT naming
 * the line); its issuer is the expected issuer (NG_E_AUTH); the signature (NG_E_AUTH: forged or
 * edited); it names this model (NG_E_KEY); it is not expired (NG_E_KEY); it is issued to this
 * identity (NG_E_KEY); the key opens (NG_E_AUTH). Files are at most NG_LICENSE_FILE_MAX bytes.
 *
 * Classes. A license may grant only some classes of the model (the signature covers the list, so
 * an edited, added or removed "classes:" line fails it). The runtime that opens the model with
 * the license (nnguard eval|predict|serve --license, or a caller of ng_model_restrict_classes)
 * then never answers another class: their probabilities are 0 and the granted ones renormalised,
 * their logits NG_MASKED_LOGIT, labels always a granted class; a class beyond the model's outputs
 * is refused (NG_E_INVALID) at issue (when the model's graph tells its classes) and at open. This
 * is enforced by the runtime, NOT by the weights: the licensee holds the model key and the
 * plaintext weights in memory, so code of their own can compute every class. It is a usage
 * policy for an honest runtime (or a service the issuer runs), not a cryptographic guarantee.
 *
 *     ng_identity me;      ng_identity_load("me", &me);
 *     ng_identity_pub iss; ng_identity_pub_load("issuer.pub", &iss);
 *     ng_license lic;      ng_license_load("model.license", &lic);
 *     ng_key k;  ng_license_open(&lic, "model.license", &iss, &me, model_id, time(NULL), &k);
 *     ng_deeplock_secret s = { .key = &k };   // then ng_seal_open_model(..., &s, ...)
 *     ng_key_wipe(&k); ng_identity_wipe(&me);
 */
#ifndef NNGUARD_LICENSE_H
#define NNGUARD_LICENSE_H
#include <stddef.h>
#include <stdint.h>
#include "status.h"
#include "keys.h"

#define NG_LICENSE_FILE_MAX 8192
#define NG_SEAL_LICENSE_MAX_CLASSES 1024

typedef struct ng_identity_pub {
    uint8_t sign[32];   /* Ed25519 */
    uint8_t box[32];    /* X25519 */
} ng_identity_pub;

typedef struct ng_identity {
    ng_identity_pub pub;
    uint8_t sign_sk[64];
    uint8_t box_sk[32];
} ng_identity;

/* New random identity. */
void      ng_identity_generate(ng_identity *out);
/* Write path (secret, 0600, refuses to overwrite) and path.pub (public half). */
ng_status ng_identity_save(const ng_identity *id, const char *path);
/* Read a secret identity file (NG_E_PERM when group/others may read it) / parse its bytes. */
ng_status ng_identity_load(const char *path, ng_identity *out);
ng_status ng_identity_parse(const void *buf, size_t len, const char *name, ng_identity *out);
/* Read / parse a public identity file (a secret identity file is accepted too: its public half). */
ng_status ng_identity_pub_load(const char *path, ng_identity_pub *out);
ng_status ng_identity_pub_parse(const void *buf, size_t len, const char *name, ng_identity_pub *out);
void      ng_identity_wipe(ng_identity *id);

/* A set of classes: limited == 0 means every class. */
typedef struct ng_class_set {
    int      limited;
    uint64_t bits[NG_SEAL_LICENSE_MAX_CLASSES / 64];
} ng_class_set;
/* "0,1,2" or ranges "0-4,7" (any order, repeats allowed) into *out; what names the option in the
 * message (NG_E_INVALID: empty, not a number, or a class >= NG_SEAL_LICENSE_MAX_CLASSES). */
ng_status ng_class_set_parse(const char *list, const char *what, ng_class_set *out);
int       ng_class_set_has(const ng_class_set *s, int c);   /* 1 for every c when not limited */
int       ng_class_set_max(const ng_class_set *s);          /* highest class in it; -1 when not limited */
/* Canonical text ("0,1,2") into buf (cap bytes; at most 5 x NG_SEAL_LICENSE_MAX_CLASSES). */
void      ng_class_set_text(const ng_class_set *s, char *buf, size_t cap);
/* The class set as the mask of ng_model_restrict_classes: n bytes; NG_E_INVALID naming name when
 * a granted class is >= n (the license grants a class the model does not have). */
ng_status ng_class_set_mask(const ng_class_set *s, int n, const char *name, uint8_t *mask);

typedef struct ng_license {
    ng_identity_pub licensee;
    uint8_t issuer[32];
    uint8_t model[32];
    char    expires[11];       /* YYYY-MM-DD */
    int64_t expires_at;        /* unix seconds at which it stops being valid (end of that day, UTC) */
    ng_class_set classes;      /* classes granted (limited == 0: all) */
    uint8_t wrapped[80];       /* crypto_box_seal of the 32-byte model key */
    uint8_t sig[64];
} ng_license;

/* Unix seconds at which a license expiring on date (YYYY-MM-DD) stops being valid: the following
 * midnight UTC; -1 when date is not a valid date from 1970 on. */
int64_t   ng_license_expiry(const char *date);
/* Issue a license: sign with issuer, wrap key to licensee. expires "YYYY-MM-DD"; classes NULL
 * (or not limited): every class. *text is malloc'ed (free it). */
ng_status ng_license_issue(const ng_identity *issuer, const ng_identity_pub *licensee, const uint8_t model[32],
                           const char *expires, const ng_class_set *classes, const ng_key *key, char **text,
                           size_t *len);
/* Parse a license file's bytes (syntax only; no signature check). */
ng_status ng_license_parse(const void *buf, size_t len, const char *name, ng_license *out);
ng_status ng_license_load(const char *path, ng_license *out);
/* Issuer and signature (NG_E_AUTH), and expiry against now (NG_E_KEY). */
ng_status ng_license_verify(const ng_license *l, const char *name, const ng_identity_pub *issuer, int64_t now);
/* Everything a load checks (see above), then the model key into *key (wipe it after use). */
ng_status ng_license_open(const ng_license *l, const char *name, const ng_identity_pub *issuer,
                          const ng_identity *me, const uint8_t model[32], int64_t now, ng_key *key);

#endif
