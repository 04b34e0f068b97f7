/* test_deeplock_v3: what Deep-Lock format 3 (nnguard.version "3") adds, issue 10:
 * - one key locking two different models, and the same model twice: every lock has its own salt
 *   and key stream. After the inverse S-box, the XOR of two locked tensors equals the XOR of the
 *   plaintexts on ~1/256 of the bytes only, and ~1/256 of the locked bytes of two locks of one
 *   model are equal; all unlock bit-exact. The unsalted stream of formats 1-2 fails the same
 *   test (the XOR holds on every byte), so the test can fail;
 * - kcv, graph_mac and params_mac (GMAC leaves, keyed BLAKE2b tree) equal the formulas of
 *   deeplock.h recomputed here; no metadata value is the plaintext's model id or parameter digest;
 * - an edited file is refused before anything is written: a graph edit (Relu -> Tanh, an
 *   attribute, an input) on ONNX, a non-float tensor on safetensors (NG_E_AUTH "graph was
 *   altered", also when opening the model with its key); an edited salt / pattern (NG_E_KEY
 *   "wrong key or altered file"); an edited params_mac (NG_E_AUTH at the end of a stream);
 * - formats 1-2 (committed files of earlier nnguard) still unlock, file and stream, with a
 *   warning naming the weakness; format 1 ctr is refused;
 * - --paper-exact warns, and applies to expand only;
 * - streaming == in memory on a file of several 1 MiB leaves per tensor, for work items smaller
 *   and larger than a leaf, 1-3 workers, ctr and expand with --only. */
#include "dl_tutil.h"
#include "formats/onnx_internal.h"
#include "formats/weights_impl.h"
#include "nnguard/safetensors.h"
#include "protect/deeplock/aes_sbox.h"

/* Fractions over every byte of the parameters of two locked files X, Y of plaintexts A, B:
 * *xor: S^-1(x) ^ S^-1(y) == a ^ b; *eq: x == y. */
static void compare_locks(const char *x, const char *y, const char *a, const char *b, double *xor, double *eq)
{
    ng_weights *wx = NULL, *wy = NULL, *wa = NULL, *wb = NULL;
    CHECK_OK(ng_weights_open(x, &wx)); CHECK_OK(ng_weights_open(y, &wy));
    CHECK_OK(ng_weights_open(a, &wa)); CHECK_OK(ng_weights_open(b, &wb));
    size_t total = 0, nx = 0, ne = 0;
    for (size_t i = 0; wx && wy && wa && wb && i < ng_weights_count(wx); i++) {
        const ng_param *px = ng_weights_param_c(wx, i), *py = ng_weights_param_c(wy, i);
        const ng_param *pa = ng_weights_param_c(wa, i), *pb = ng_weights_param_c(wb, i);
        for (size_t j = 0; j < px->nbytes; j++) {
            nx += (ng_aes_inv_sbox[px->data[j]] ^ ng_aes_inv_sbox[py->data[j]]) == (pa->data[j] ^ pb->data[j]);
            ne += px->data[j] == py->data[j];
        }
        total += px->nbytes;
    }
    *xor = total ? (double)nx / (double)total : 1;
    *eq = total ? (double)ne / (double)total : 1;
    ng_weights_free(wx); ng_weights_free(wy); ng_weights_free(wa); ng_weights_free(wb);
}

static void id_hex(const char *path, char hex[65])
{
    ng_weights *w = NULL;
    uint8_t id[32];
    hex[0] = 0;
    CHECK_OK(ng_weights_open(path, &w));
    if (!w) return;
    ng_weights_id(w, id);
    ng_id_hex(id, hex);
    ng_weights_free(w);
}

/* ONNX edits made with the protobuf, saved to out. */
typedef void (*edit_fn)(Onnx__ModelProto *mp);
static void edit_onnx(const char *in, const char *out, edit_fn fn)
{
    ng_weights *w = NULL;
    CHECK_OK(ng_weights_open(in, &w));
    if (!w) return;
    fn((Onnx__ModelProto *)ng_onnx_weights_proto(w));
    CHECK_OK(ng_weights_save(w, out));
    ng_weights_free(w);
}
static void relu_to_tanh(Onnx__ModelProto *mp)
{
    for (size_t i = 0; i < mp->graph->n_node; i++)
        if (!strcmp(mp->graph->node[i]->op_type, "Relu")) { free(mp->graph->node[i]->op_type); mp->graph->node[i]->op_type = strdup("Tanh"); return; }
}
static void attr_edit(Onnx__ModelProto *mp)
{
    for (size_t i = 0; i < mp->graph->n_node; i++)
        for (size_t a = 0; a < mp->graph->node[i]->n_attribute; a++)
            if (mp->graph->node[i]->attribute[a]->n_ints) { mp->graph->node[i]->attribute[a]->ints[0] += 1; return; }
}
static void output_edit(Onnx__ModelProto *mp)
{
    Onnx__ValueInfoProto *o = mp->graph->output[0];
    free(o->doc_string);
    o->doc_string = strdup("changed");
}

int main(void)
{
    CHECK_OK(ng_init());
    ng_key k, k128;
    CHECK_OK(ng_key_generate(256, &k));
    CHECK_OK(ng_key_generate(128, &k128));
    ng_deeplock_secret s = {.key = &k}, s128 = {.key = &k128};
    FILE *log = tmpfile();
    char text[4096];

    /* ---- one key, many locks: no shared key stream ---- */
    {
        static const size_t sizes[] = {64u << 10, 64u << 10};
        const char *a = tmp("A.safetensors"), *b = tmp("B.safetensors");
        dl_make_st(a, sizes, 2, 1, DL_ST_STEPS | DL_ST_NORMAL);
        dl_make_st(b, sizes, 2, 2, DL_ST_STEPS | DL_ST_NORMAL);
        for (int ks = 0; ks < 2; ks++) {
            ng_deeplock_options o = ng_deeplock_options_default();
            o.keystream = (ng_keystream)ks;
            const ng_deeplock_secret *sk = ks ? &s128 : &s;
            const char *la = tmp("lA.safetensors"), *la2 = tmp("lA2.safetensors"), *lb = tmp("lB.safetensors");
            const char *ua = tmp("uA.safetensors"), *ua2 = tmp("uA2.safetensors"), *ub = tmp("uB.safetensors");
            unlink(la); unlink(la2); unlink(lb);
            CHECK_OK(ng_deeplock_lock_file(a, la, sk, &o));
            CHECK_OK(ng_deeplock_lock_stream(a, la2, sk, &o));
            CHECK_OK(ng_deeplock_lock_file(b, lb, sk, &o));
            double xor_ab, eq_ab, xor_aa, eq_aa;
            compare_locks(la, lb, a, b, &xor_ab, &eq_ab);
            compare_locks(la, la2, a, a, &xor_aa, &eq_aa);
            printf("%s: two models, one key: XOR of plaintexts holds on %.4f%% of the bytes; same model twice: "
                   "%.4f%% of the locked bytes equal (1/256 = 0.3906%%)\n", ks ? "expand" : "ctr", 100 * xor_ab, 100 * eq_aa);
            CHECKF(xor_ab < 2.0 / 256 && xor_ab > 0.25 / 256, "%s: XOR of plaintexts holds on %g of the bytes", ks ? "expand" : "ctr", xor_ab);
            CHECKF(eq_aa < 2.0 / 256 && eq_aa > 0.25 / 256, "%s: %g of two locks of one model are equal", ks ? "expand" : "ctr", eq_aa);
            CHECK(xor_aa == eq_aa);   /* same plaintext: the two measures agree */
            CHECK_OK(ng_deeplock_unlock_file(la, ua, sk, &o));
            CHECK_OK(ng_deeplock_unlock_stream(la2, ua2, sk, &o));
            CHECK_OK(ng_deeplock_unlock_file(lb, ub, sk, &o));
            CHECK(same_file(ua, a) && same_file(ua2, a) && same_file(ub, b));
            unlink(ua); unlink(ua2); unlink(ub);
        }
        /* the unsalted stream of formats 1-2 (the parameter API without a salt): the XOR holds everywhere */
        ng_weights *wa = NULL, *wb = NULL;
        CHECK_OK(ng_weights_open(a, &wa));
        CHECK_OK(ng_weights_open(b, &wb));
        ng_deeplock_options o = ng_deeplock_options_default();
        CHECK_OK(ng_deeplock_lock_params(ng_weights_param(wa, 0), ng_weights_count(wa), &k, NULL, &o));
        CHECK_OK(ng_deeplock_lock_params(ng_weights_param(wb, 0), ng_weights_count(wb), &k, NULL, &o));
        CHECK_OK(ng_weights_save(wa, tmp("legA.safetensors")));
        CHECK_OK(ng_weights_save(wb, tmp("legB.safetensors")));
        ng_weights_free(wa); ng_weights_free(wb);
        double xr, eq;
        compare_locks(tmp("legA.safetensors"), tmp("legB.safetensors"), a, b, &xr, &eq);
        CHECKF(xr == 1.0, "unsalted stream: the XOR holds on %g of the bytes (the attack of issue 10)", xr);
    }

    /* ---- the MACs as deeplock.h defines them; nothing identifies the plaintext ---- */
    char onnx[4200];   /* tu_path's buffer is reused */
    snprintf(onnx, sizeof onnx, "%s", tu_path("fixtures/lenet5.onnx"));
    const char *lon = tmp("l.onnx");
    {
        ng_deeplock_options o = ng_deeplock_options_default();
        o.only = "*.weight";
        CHECK_OK(ng_deeplock_lock_file(onnx, lon, &s, &o));
        ng_weights *wp = NULL, *wl = NULL;
        CHECK_OK(ng_weights_open(onnx, &wp));
        CHECK_OK(ng_weights_open(lon, &wl));
        uint8_t salt[32], kcv[32], gm[32], pm[32], M[32], want[32], graph[32], params[32], id[32], lgraph[32];
        CHECK(meta32(wl, "nnguard.salt", salt) && meta32(wl, "nnguard.kcv", kcv) && meta32(wl, "nnguard.graph_mac", gm) &&
              meta32(wl, "nnguard.params_mac", pm));
        ref_M(k.k, 32, salt, M);
        uint8_t msg[256], *q = msg;
        memcpy(q, "nnguard.deeplock.v3.kcv", 24); q += 24;   /* with its NUL */
        memcpy(q, salt, 32); q += 32;
        static const char *const fields[] = {"ctr", "", "*.weight"};
        for (int i = 0; i < 3; i++) { ng_put_le32(q, (uint32_t)strlen(fields[i])); q += 4; memcpy(q, fields[i], strlen(fields[i])); q += strlen(fields[i]); }
        crypto_generichash(want, 32, msg, (size_t)(q - msg), M, 32);
        CHECK(memcmp(want, kcv, 32) == 0);
        CHECK_OK(ng_weights_graph_digest(wp, graph));
        CHECK_OK(ng_weights_graph_digest(wl, lgraph));
        CHECK(memcmp(graph, lgraph, 32) == 0);   /* locking leaves the graph digest as it was */
        ref_keyed(M, 32, "nnguard.deeplock.v3.graph", graph, 32, want, 32);
        CHECK(memcmp(want, gm, 32) == 0);
        ref_params_mac(M, ng_weights_param(wp, 0), ng_weights_count(wp), want);
        CHECK(memcmp(want, pm, 32) == 0);
        CHECK_OK(ng_weights_params_digest(wp, 1, params));
        /* no value in the metadata is the plaintext's model id or parameter digest */
        char hid[65], hpd[65];
        ng_weights_id(wp, id);
        ng_id_hex(id, hid);
        ng_id_hex(params, hpd);
        int clean = 1;
        for (size_t i = 0; i < ng_weights_meta_count(wl); i++) {
            const char *key, *v;
            ng_weights_meta_at(wl, i, &key, &v);
            clean &= !strstr(v, hid) && !strstr(v, hpd);
        }
        CHECK(clean);
        ng_weights_free(wp); ng_weights_free(wl);
    }

    /* ---- edited files are refused before anything is written ---- */
    const char *bad = tmp("bad.out");
    {
        ng_deeplock_options o = ng_deeplock_options_default();
        static const struct { const char *what; edit_fn fn; } edits[] = {
            {"Relu -> Tanh", relu_to_tanh}, {"an attribute", attr_edit}, {"an output's doc string", output_edit}};
        for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
            const char *ed = tmp("edited.onnx");
            edit_onnx(lon, ed, edits[i].fn);
            CHECK_ST(ng_deeplock_unlock_file(ed, bad, &s, &o), NG_E_AUTH);
            CHECKF(strstr(ng_last_error(), "graph was altered") != NULL, "%s: %s", edits[i].what, ng_last_error());
            ng_model *m = NULL;
            CHECK_ST(ng_deeplock_open_model(ed, &s, &m), NG_E_AUTH);
            CHECK(m == NULL && !exists(bad));
            /* --no-check is the paper's behaviour: it unlocks whatever it is given */
            ng_deeplock_options onc = o;
            onc.no_check = 1;
            CHECK_OK(ng_deeplock_unlock_file(ed, bad, &s, &onc));
            unlink(bad);
        }
        /* safetensors: a non-float tensor is part of the graph; stream and in memory */
        static const size_t sizes[] = {4096, 8192};
        const char *p = tmp("P.safetensors"), *lp = tmp("lP.safetensors"), *ed = tmp("edP.safetensors");
        dl_make_st(p, sizes, 2, 3, DL_ST_STEPS | DL_ST_NORMAL);
        CHECK_OK(ng_deeplock_lock_stream(p, lp, &s, &o));
        size_t n;
        uint8_t *d = slurp(lp, &n);
        ng_st_header *h = NULL;
        CHECK_OK(ng_st_header_read(lp, &h));
        long si = h ? ng_st_header_find(h, "steps") : -1;
        CHECK(si >= 0);
        if (d && si >= 0) {
            d[ng_st_header_tensor(h, (size_t)si)->offset] ^= 1;
            CHECK_OK(ng_write_file_atomic(ed, d, n, NG_MODE_PUBLIC));
            CHECK_ST(ng_deeplock_unlock_stream(ed, bad, &s, &o), NG_E_AUTH);
            CHECK(strstr(ng_last_error(), "graph was altered") != NULL);
            CHECK_ST(ng_deeplock_unlock_file(ed, bad, &s, &o), NG_E_AUTH);
            CHECK(!exists(bad));
        }
        ng_st_header_free(h);
        free(d);
        /* edited metadata: salt, pattern -> NG_E_KEY; params_mac -> NG_E_AUTH at the end */
        static const struct { const char *key, *value; ng_status want; const char *msg; } meta[] = {
            {"nnguard.salt", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", NG_E_KEY, "wrong key or altered file"},
            {"nnguard.only", "t0.*", NG_E_KEY, "wrong key or altered file"},
            {"nnguard.params_mac", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", NG_E_AUTH, "modified or truncated"},
            {"nnguard.graph_mac", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", NG_E_AUTH, "graph was altered"},
            {"nnguard.version", "4", NG_E_UNSUPPORTED, "not supported"}};
        for (size_t i = 0; i < sizeof meta / sizeof meta[0]; i++) {
            set_meta(lp, ed, meta[i].key, meta[i].value);
            CHECK_ST(ng_deeplock_unlock_stream(ed, bad, &s, &o), meta[i].want);
            CHECKF(strstr(ng_last_error(), meta[i].msg) != NULL, "%s: %s", meta[i].key, ng_last_error());
            CHECK_ST(ng_deeplock_unlock_file(ed, bad, &s, &o), meta[i].want);
            CHECK(!exists(bad));
        }
    }

    /* ---- formats 1-2 still unlock (with a warning); format 1 ctr is refused ---- */
    {
        ng_key fk;
        memset(&fk, 0, sizeof fk);
        for (int i = 0; i < 32; i++) fk.k[i] = (uint8_t)i;   /* the fixed key the fixtures were locked with */
        fk.len = 32;
        ng_key fk16 = fk;
        fk16.len = 16;
        ng_deeplock_secret sf = {.key = &fk}, sf16 = {.key = &fk16};
        ng_deeplock_options o = ng_deeplock_options_default();
        o.log = log;
        char want[65], got[65];
        id_hex(tu_path("fixtures/resbn.onnx"), want);
        const char *v2 = tu_path("fixtures/deeplock_v2_ctr.onnx");
        char v2c[4200];
        snprintf(v2c, sizeof v2c, "%s", v2);
        const char *u = tmp("u_v2.onnx");
        CHECK_OK(ng_deeplock_unlock_file(v2c, u, &sf, &o));
        id_hex(u, got);
        CHECK(!strcmp(got, want));
        log_text(log, text, sizeof text);
        CHECKF(strstr(text, "format 2") && strstr(text, "shares it"), "warning: %s", text);
        CHECK_ST(ng_deeplock_unlock_file(v2c, bad, &s, &o), NG_E_KEY);
        CHECK(!exists(bad));
        /* safetensors, expand, --only *.weight: stream (falls back to memory) and file */
        ng_model *m = NULL;
        const char *rst = tmp("resbn.safetensors");
        CHECK_OK(ng_model_load(tu_path("fixtures/resbn.onnx"), &m));
        CHECK_OK(ng_model_save_safetensors(m, rst));
        ng_model_free(m);
        id_hex(rst, want);
        char v2e[4200];
        snprintf(v2e, sizeof v2e, "%s", tu_path("fixtures/deeplock_v2_expand.safetensors"));
        const char *ue = tmp("u_v2.safetensors");
        CHECK_OK(ng_deeplock_unlock_stream(v2e, ue, &sf16, &o));
        id_hex(ue, got);
        CHECK(!strcmp(got, want) && same_file(ue, rst));
        log_text(log, text, sizeof text);
        CHECK(strstr(text, "format 2") != NULL);
        /* format 1: expand unlocks, ctr (XChaCha20) is refused */
        const char *v1 = tmp("v1.safetensors");
        set_meta(v2e, v1, "nnguard.version", "1");
        CHECK_OK(ng_deeplock_unlock_file(v1, ue, &sf16, &o));
        CHECK(same_file(ue, rst));
        set_meta(v2c, tmp("v1.onnx"), "nnguard.version", "1");
        CHECK_ST(ng_deeplock_unlock_file(tmp("v1.onnx"), bad, &sf, &o), NG_E_UNSUPPORTED);
        CHECK(!exists(bad));
        log_text(log, text, sizeof text);
    }

    /* ---- --paper-exact ---- */
    {
        ng_deeplock_options o = ng_deeplock_options_default();
        o.paper_exact = 1;
        CHECK_ST(ng_deeplock_lock_file(onnx, bad, &s, &o), NG_E_INVALID);   /* ctr */
        o.keystream = NG_KS_EXPAND;
        o.log = log;
        CHECK_OK(ng_deeplock_lock_file(onnx, tmp("paper.onnx"), &s128, &o));
        log_text(log, text, sizeof text);
        CHECKF(strstr(text, "never lock a second model") != NULL, "paper warning: %s", text);
        o.paper_exact = 0;
        CHECK_OK(ng_deeplock_lock_file(onnx, tmp("salted.onnx"), &s128, &o));
        log_text(log, text, sizeof text);
        CHECK(text[0] == 0);
    }

    /* ---- streaming == in memory, several leaves per tensor ---- */
    {
        static const size_t sizes[] = {(2u << 20) + 4096, 4, (1u << 20), 3u << 20, 1000};
        const char *p = tmp("big.safetensors"), *lm = tmp("big_mem.safetensors"), *ls = tmp("big_str.safetensors");
        const char *um = tmp("big_un.safetensors");
        dl_make_st(p, sizes, 5, 9, DL_ST_STEPS | DL_ST_NORMAL);
        static const uint8_t salt[32] = {7};
        for (int ks = 0; ks < 2; ks++) {
            ng_deeplock_options o = ng_deeplock_options_default();
            o.keystream = (ng_keystream)ks;
            o.salt = salt;
            o.only = ks ? "t0.*,t3.*,t4.*" : NULL;
            const ng_deeplock_secret *sk = ks ? &s128 : &s;
            CHECK_OK(ng_deeplock_lock_file(p, lm, sk, &o));
            static const struct { size_t chunk; int threads; } sv[] = {{0, 2}, {1u << 20, 1}, {3u << 20, 3}, {100, 2}, {(1u << 20) + 5, 2}};
            for (size_t i = 0; i < sizeof sv / sizeof sv[0]; i++) {
                ng_deeplock_options ov = o;
                ov.chunk_bytes = sv[i].chunk;
                ov.threads = sv[i].threads;
                CHECK_OK(ng_deeplock_lock_stream(p, ls, sk, &ov));
                CHECKF(same_file(lm, ls), "%s: stream lock, items of %zu bytes, %d workers", ks ? "expand" : "ctr", sv[i].chunk, sv[i].threads);
                CHECK_OK(ng_deeplock_unlock_stream(lm, um, sk, &ov));
                CHECKF(same_file(um, p), "%s: stream unlock, items of %zu bytes, %d workers", ks ? "expand" : "ctr", sv[i].chunk, sv[i].threads);
            }
        }
    }
    fclose(log);
    ng_key_wipe(&k);
    ng_key_wipe(&k128);
    return tu_done();
}
