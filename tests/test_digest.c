/* test_digest: the parameter and graph digests of nnguard/weights.h.
 * - ONNX fixtures (lenet5, resbn, deeplock_dtypes with FLOAT16/BFLOAT16/DOUBLE and float_data
 *   initializers and an INT64 initializer): both digests equal the values tests/digest_ref.py
 *   computed with Python's protobuf and hashlib from the header's text;
 * - the parameter digest equals the formula computed here with OpenSSL, for tensors of several
 *   1 MiB leaves (and an empty one), on 1, 2 and 3 workers;
 * - the graph digest ignores parameter values and metadata, and changes with an op type, an
 *   attribute, a graph input, a non-float initializer, a parameter's shape;
 * - safetensors: the streamed header digest equals the in-memory one; a non-float tensor's bytes
 *   change it, a float tensor's bytes do not. */
#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>
#include "tutil.h"
#include "core/core.h"
#include "formats/onnx_internal.h"
#include "formats/weights_impl.h"
#include "nnguard/safetensors.h"

static char path_buf[32][512];
static int path_i;
static const char *tmp(const char *name)
{
    char *p = path_buf[path_i++ % 32];
    snprintf(p, 512, "%s/%s", tu_tmpdir(), name);
    return p;
}

static void hex_of(const uint8_t d[32], char h[65]) { ng_id_hex(d, h); }

static void digests(const char *path, char params[65], char graph[65])
{
    ng_weights *w = NULL;
    uint8_t d[32];
    params[0] = graph[0] = 0;
    CHECK_OK(ng_weights_open(path, &w));
    if (!w) return;
    CHECK_OK(ng_weights_params_digest(w, 0, d));
    hex_of(d, params);
    CHECK_OK(ng_weights_graph_digest(w, d));
    hex_of(d, graph);
    ng_weights_free(w);
}

static void sha(const void *d, size_t n, uint8_t out[32])
{
    unsigned len;
    EVP_Digest(d, n, out, &len, EVP_sha256(), NULL);
}

/* The parameter digest as weights.h states it, built byte by byte. */
static void params_ref(const ng_param *p, size_t n, uint8_t out[32])
{
    static const char tl[] = "nnguard.digest.tensor.v1", pl[] = "nnguard.digest.params.v1";
    uint8_t *root = malloc(sizeof pl + 8 + 32 * n), *r = root;
    memcpy(r, pl, sizeof pl); r += sizeof pl;
    ng_put_le64(r, n); r += 8;
    for (size_t i = 0; i < n; i++) {
        size_t nl = (p[i].nbytes + (1u << 20) - 1) >> 20;
        uint8_t *t = malloc(sizeof tl + 256 + 32 * nl), *q = t;
        const char *dt = ng_dtype_name(p[i].dtype);
        memcpy(q, tl, sizeof tl); q += sizeof tl;
        ng_put_le32(q, (uint32_t)strlen(p[i].name)); q += 4;
        memcpy(q, p[i].name, strlen(p[i].name)); q += strlen(p[i].name);
        ng_put_le32(q, (uint32_t)strlen(dt)); q += 4;
        memcpy(q, dt, strlen(dt)); q += strlen(dt);
        ng_put_le32(q, (uint32_t)p[i].shape.ndim); q += 4;
        for (int d = 0; d < p[i].shape.ndim; d++) { ng_put_le64(q, (uint64_t)p[i].shape.d[d]); q += 8; }
        ng_put_le64(q, p[i].nbytes); q += 8;
        ng_put_le64(q, nl); q += 8;
        for (size_t l = 0; l < nl; l++) {
            size_t off = l << 20, len = p[i].nbytes - off < (1u << 20) ? p[i].nbytes - off : (1u << 20);
            sha(p[i].data + off, len, q); q += 32;
        }
        sha(t, (size_t)(q - t), r); r += 32;
        free(t);
    }
    sha(root, (size_t)(r - root), out);
    free(root);
}

/* Open path, let edit change its ONNX proto, save to out, return out's graph digest. */
typedef void (*edit_fn)(Onnx__ModelProto *mp);
static void edited_graph(const char *path, edit_fn edit, const char *out, char graph[65])
{
    ng_weights *w = NULL;
    CHECK_OK(ng_weights_open(path, &w));
    if (!w) return;
    edit((Onnx__ModelProto *)ng_onnx_weights_proto(w));
    CHECK_OK(ng_weights_save(w, out));
    ng_weights_free(w);
    char p[65];
    digests(out, p, graph);
}

static void relu_to_tanh(Onnx__ModelProto *mp)
{
    for (size_t i = 0; i < mp->graph->n_node; i++)
        if (!strcmp(mp->graph->node[i]->op_type, "Relu")) { free(mp->graph->node[i]->op_type); mp->graph->node[i]->op_type = strdup("Tanh"); return; }
}
static void stride_2(Onnx__ModelProto *mp)   /* an attribute's value */
{
    for (size_t i = 0; i < mp->graph->n_node; i++)
        for (size_t a = 0; a < mp->graph->node[i]->n_attribute; a++) {
            Onnx__AttributeProto *at = mp->graph->node[i]->attribute[a];
            if (at->n_ints > 0) { at->ints[0] += 1; return; }
        }
}
static void rename_input(Onnx__ModelProto *mp)
{
    Onnx__ValueInfoProto *in = mp->graph->input[0];
    in->name[0] = in->name[0] == 'x' ? 'y' : 'x';
    for (size_t i = 0; i < mp->graph->n_node; i++)   /* keep the graph consistent */
        for (size_t k = 0; k < mp->graph->node[i]->n_input; k++)
            if (mp->graph->node[i]->input[k][0] != in->name[0] && !strcmp(mp->graph->node[i]->input[k] + 1, in->name + 1))
                mp->graph->node[i]->input[k][0] = in->name[0];
}
static void add_metadata(Onnx__ModelProto *mp) { (void)mp; }
static void int_initializer(Onnx__ModelProto *mp)
{
    for (size_t i = 0; i < mp->graph->n_initializer; i++) {
        Onnx__TensorProto *t = mp->graph->initializer[i];
        if (t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__INT64) {
            if (t->n_int64_data) t->int64_data[0] ^= 1;
            else if (t->raw_data.len) t->raw_data.data[0] ^= 1;
            return;
        }
    }
}
static void reshape_param(Onnx__ModelProto *mp)
{
    for (size_t i = 0; i < mp->graph->n_initializer; i++) {
        Onnx__TensorProto *t = mp->graph->initializer[i];
        if (t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT && t->n_dims == 2) {
            int64_t a = t->dims[0];
            t->dims[0] = t->dims[1]; t->dims[1] = a;   /* same size, transposed shape */
            return;
        }
    }
}

static void st_digests(const char *path, char mem[65], char streamed[65])
{
    ng_weights *w = NULL;
    uint8_t d[32];
    CHECK_OK(ng_weights_open(path, &w));
    CHECK_OK(ng_weights_graph_digest(w, d));
    hex_of(d, mem);
    ng_weights_free(w);
    ng_st_header *h = NULL;
    int fd = open(path, O_RDONLY);
    CHECK_OK(ng_st_header_read_fd(fd, path, &h));
    CHECK_OK(ng_st_header_graph_digest(h, fd, path, d));
    hex_of(d, streamed);
    ng_st_header_free(h);
    close(fd);
}

int main(void)
{
    CHECK_OK(ng_init());
    /* ---- known answers from tests/digest_ref.py ---- */
    static const struct { const char *file, *params, *graph; } ref[] = {
        {"fixtures/lenet5.onnx", "98c122f6d24bf566aea0d5ae711e11072afb807d4772c826d8cf86d520e0bd78",
         "a98ae4dfa7a3b1548b17c8b437f085d5e4e5927a4b407cf5ac3b39b414f839fd"},
        {"fixtures/deeplock_dtypes.onnx", "a5cc97b4928b5ec9390db24a46bfba6b5ddb39712f001975488942de1ea01b4f",
         "3d8585866b3762bc4f8e62999b9adba80a2cdef60382e9cb5343f9adda04739a"},
        {"fixtures/resbn.onnx", "7b1f93565e5bdcc1420c1f04b5bdc68be687bd1a70851a8cc2a972491de9ce53",
         "4c295340ff2adfc6b804142134638368a6570aaae799562936f166b7de28169d"}};
    for (size_t i = 0; i < sizeof ref / sizeof ref[0]; i++) {
        char p[65], g[65];
        digests(tu_path(ref[i].file), p, g);
        CHECKF(!strcmp(p, ref[i].params), "%s: params digest %s, Python says %s", ref[i].file, p, ref[i].params);
        CHECKF(!strcmp(g, ref[i].graph), "%s: graph digest %s, Python says %s", ref[i].file, g, ref[i].graph);
    }

    /* ---- parameter digest: the formula, multi-leaf tensors, any number of workers ---- */
    {
        static const size_t sizes[] = {(2u << 20) + 100, 0, 12, 1u << 20, (1u << 20) + 1};
        enum { NP = 5 };
        ng_param p[NP];
        char names[NP][16];
        for (int i = 0; i < NP; i++) {
            snprintf(names[i], sizeof names[i], "t%d.weight", i);
            p[i] = (ng_param){.name = names[i], .dtype = i == 2 ? NG_DT_F16 : NG_DT_F32, .data = malloc(sizes[i] + 1),
                              .nbytes = sizes[i]};
            p[i].shape.ndim = 1;
            p[i].shape.d[0] = (int64_t)(sizes[i] / (i == 2 ? 2 : 4));
            for (size_t j = 0; j < sizes[i]; j++) p[i].data[j] = (uint8_t)(j * 7 + (size_t)i);
        }
        uint8_t want[32], got[32];
        params_ref(p, NP, want);
        for (int th = 1; th <= 3; th++) {
            CHECK_OK(ng_params_digest(p, NP, th, got));
            CHECKF(memcmp(want, got, 32) == 0, "parameter digest on %d workers differs from the formula", th);
        }
        p[0].data[(2u << 20) + 99] ^= 1;   /* last byte of the last leaf */
        CHECK_OK(ng_params_digest(p, NP, 2, got));
        CHECK(memcmp(want, got, 32) != 0);
        for (int i = 0; i < NP; i++) free(p[i].data);
    }

    /* ---- graph digest: what changes it and what does not ---- */
    {
        const char *m = tu_path("fixtures/lenet5.onnx");
        char p0[65], g0[65], g[65];
        digests(m, p0, g0);
        ng_weights *w = NULL;
        CHECK_OK(ng_weights_open(m, &w));
        if (w) {
            ng_weights_param(w, 0)->data[0] ^= 0x55;   /* a parameter value */
            CHECK_OK(ng_weights_meta_set(w, "nnguard.scheme", "deeplock"));
            CHECK_OK(ng_weights_save(w, tmp("values.onnx")));
            ng_weights_free(w);
        }
        char p1[65];
        digests(tmp("values.onnx"), p1, g);
        CHECKF(!strcmp(g, g0), "parameter values and metadata changed the graph digest");
        CHECK(strcmp(p1, p0) != 0);
        edited_graph(m, add_metadata, tmp("same.onnx"), g);
        CHECK(!strcmp(g, g0));
        static const struct { const char *what; edit_fn fn; const char *file; } edits[] = {
            {"Relu -> Tanh", relu_to_tanh, "fixtures/lenet5.onnx"}, {"an attribute", stride_2, "fixtures/lenet5.onnx"},
            {"the graph input's name", rename_input, "fixtures/lenet5.onnx"},
            {"a parameter's shape", reshape_param, "fixtures/lenet5.onnx"},
            {"an INT64 initializer", int_initializer, "fixtures/deeplock_dtypes.onnx"}};
        for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
            char pb[65], gb[65];
            digests(tu_path(edits[i].file), pb, gb);
            edited_graph(tu_path(edits[i].file), edits[i].fn, tmp("edited.onnx"), g);
            CHECKF(strcmp(g, gb) != 0, "editing %s did not change the graph digest", edits[i].what);
        }
    }

    /* ---- safetensors: streamed == in memory; non-float bytes count, float bytes do not ---- */
    {
        ng_st_header *h;
        ng_shape sa = {2, {3, 4}}, sb = {1, {5}};
        CHECK_OK(ng_st_header_new(&h));
        CHECK_OK(ng_st_header_add(h, "w", NG_DT_F32, &sa));
        CHECK_OK(ng_st_header_add(h, "steps", NG_DT_I64, &sb));
        CHECK_OK(ng_st_header_add(h, "b", NG_DT_BF16, &sb));
        uint8_t *hdr;
        size_t hlen, dn = ng_st_header_data_size(h);
        CHECK_OK(ng_st_header_serialize(h, &hdr, &hlen));
        uint8_t *file = calloc(1, hlen + dn);
        memcpy(file, hdr, hlen);
        for (size_t i = 0; i < dn; i++) file[hlen + i] = (uint8_t)(i * 13);
        const char *a = tmp("a.safetensors"), *b = tmp("b.safetensors"), *c = tmp("c.safetensors");
        CHECK_OK(ng_write_file_atomic(a, file, hlen + dn, NG_MODE_PUBLIC));
        file[hlen + 3] ^= 1;   /* a byte of w (F32) */
        CHECK_OK(ng_write_file_atomic(b, file, hlen + dn, NG_MODE_PUBLIC));
        file[hlen + 48 + 2] ^= 1;   /* a byte of steps (I64) */
        CHECK_OK(ng_write_file_atomic(c, file, hlen + dn, NG_MODE_PUBLIC));
        char ma[65], sa_[65], mb[65], sb_[65], mc[65], sc[65];
        st_digests(a, ma, sa_);
        st_digests(b, mb, sb_);
        st_digests(c, mc, sc);
        CHECK(!strcmp(ma, sa_) && !strcmp(mb, sb_) && !strcmp(mc, sc));
        CHECKF(!strcmp(ma, mb), "a float tensor's bytes changed the graph digest");
        CHECKF(strcmp(mb, mc) != 0, "a non-float tensor's bytes did not change the graph digest");
        free(hdr); free(file);
        ng_st_header_free(h);
    }
    return tu_done();
}
