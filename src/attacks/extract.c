/* attacks/extract.c - knockoff model extraction through a real prediction API over HTTP.
 *
 * The HTTP client is libcurl (Debian's libcurl4-openssl-dev): connection reuse (keep-alive),
 * chunked and content-length bodies, redirects refused, timeouts and TLS all come from a
 * maintained library, where a hand-written client would be one more parser of untrusted bytes
 * to get right. Queries go as application/octet-stream float32 (exact bits); answers are the
 * API's JSON {"probabilities": [[...]], "labels": [...]}, read with jansson. */
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>
#include "nnguard/attack.h"
#include "nnguard/rng.h"
#include "nnguard/dynamarks.h"
#include "core/core.h"

#define API_ANSWER_MAX ((size_t)64 << 20)

struct ng_api_client {
    CURL *curl;
    struct curl_slist *hdr;
    char *url;
    char *buf;
    size_t len, cap;
    int64_t requests;
};

static size_t on_data(char *p, size_t sz, size_t nm, void *arg)
{
    ng_api_client *c = arg;
    size_t n = sz * nm;
    if (c->len + n + 1 > API_ANSWER_MAX) return 0;   /* aborts the transfer */
    if (c->len + n + 1 > c->cap) {
        size_t nc = c->cap ? 2 * c->cap : 65536;
        while (nc < c->len + n + 1) nc *= 2;
        char *nb = realloc(c->buf, nc);
        if (!nb) return 0;
        c->buf = nb;
        c->cap = nc;
    }
    memcpy(c->buf + c->len, p, n);
    c->len += n;
    c->buf[c->len] = 0;
    return n;
}

ng_status ng_api_client_new(const char *url, const char *token, ng_api_client **out)
{
    *out = NULL;
    static int global_done;
    if (!global_done) { curl_global_init(CURL_GLOBAL_DEFAULT); global_done = 1; }
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return ng_fail(NG_E_INVALID, "--api %s: give an http:// or https:// URL", url);
    ng_api_client *c = calloc(1, sizeof *c);
    if (!c) return ng_fail(NG_E_NOMEM, "out of memory");
    size_t n = strlen(url);
    int has_path = n >= 11 && !strcmp(url + n - 11, "/v1/predict");
    c->url = malloc(n + 16);
    c->curl = curl_easy_init();
    if (!c->url || !c->curl) { ng_api_client_free(c); return ng_fail(NG_E_NOMEM, "cannot start the HTTP client"); }
    snprintf(c->url, n + 16, "%s%s", url, has_path ? "" : (n && url[n - 1] == '/' ? "v1/predict" : "/v1/predict"));
    c->hdr = curl_slist_append(NULL, "Content-Type: application/octet-stream");
    if (token) {
        size_t tl = strlen(token) + 32;
        char *h = malloc(tl);
        if (h) {
            snprintf(h, tl, "Authorization: Bearer %s", token);
            c->hdr = curl_slist_append(c->hdr, h);
            sodium_memzero(h, tl);
            free(h);
        }
    }
    curl_easy_setopt(c->curl, CURLOPT_URL, c->url);
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->hdr);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->curl, CURLOPT_FOLLOWLOCATION, 0L);
    *out = c;
    return NG_OK;
}

void ng_api_client_free(ng_api_client *c)
{
    if (!c) return;
    if (c->curl) curl_easy_cleanup(c->curl);
    curl_slist_free_all(c->hdr);
    free(c->url);
    free(c->buf);
    free(c);
}

int64_t ng_api_client_requests(const ng_api_client *c) { return c->requests; }

ng_status ng_api_query(ng_api_client *c, const float *x, int64_t n, int64_t dim, int classes, float *probs,
                       int32_t *labels)
{
    size_t bytes = (size_t)n * (size_t)dim * 4;
    uint8_t *body = malloc(bytes ? bytes : 1);
    if (!body) return ng_fail(NG_E_NOMEM, "out of memory");
    for (size_t i = 0; i < (size_t)n * (size_t)dim; i++) { uint32_t u; memcpy(&u, &x[i], 4); ng_put_le32(body + 4 * i, u); }
    c->len = 0;
    curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)bytes);
    CURLcode rc = curl_easy_perform(c->curl);
    free(body);
    c->requests++;
    if (rc != CURLE_OK) return ng_fail(NG_E_IO, "%s: %s", c->url, curl_easy_strerror(rc));
    long code = 0;
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &code);
    json_error_t err;
    json_t *root = json_loadb(c->buf ? c->buf : "", c->len, 0, &err);
    if (code != 200) {
        const char *msg = json_string_value(json_object_get(root, "error"));
        ng_status st = ng_fail(code == 429 ? NG_E_STATE : NG_E_IO, "%s: HTTP %ld: %s", c->url, code, msg ? msg : "no error message");
        json_decref(root);
        return st;
    }
    json_t *p = json_object_get(root, "probabilities"), *l = json_object_get(root, "labels");
    ng_status st = NG_OK;
    if (!json_is_array(p) || !json_is_array(l) || json_array_size(p) != (size_t)n || json_array_size(l) != (size_t)n)
        st = ng_fail(NG_E_FORMAT, "%s: the answer does not hold %lld probability rows and labels", c->url, (long long)n);
    for (int64_t i = 0; st == NG_OK && i < n; i++) {
        json_t *row = json_array_get(p, (size_t)i), *lab = json_array_get(l, (size_t)i);
        if (!json_is_array(row) || json_array_size(row) != (size_t)classes || !json_is_integer(lab) ||
            json_integer_value(lab) < 0 || json_integer_value(lab) >= classes) {
            st = ng_fail(NG_E_FORMAT, "%s: answer row %lld is not %d probabilities and a label", c->url, (long long)i, classes);
            break;
        }
        for (int k = 0; k < classes; k++) {
            json_t *v = json_array_get(row, (size_t)k);
            if (!json_is_number(v)) { st = ng_fail(NG_E_FORMAT, "%s: answer row %lld holds a non-number", c->url, (long long)i); break; }
            if (probs) probs[i * classes + k] = (float)json_number_value(v);
        }
        if (labels) labels[i] = (int32_t)json_integer_value(lab);
    }
    json_decref(root);
    return st;
}

ng_extract_options ng_extract_options_default(void)
{
    ng_extract_options o;
    memset(&o, 0, sizeof o);
    o.budget = 5000;
    o.batch = 100;
    o.fidelity = 1000;
    o.train = ng_train_options_default();
    o.train.epochs = 20;
    o.train.quiet = 1;
    return o;
}

ng_status ng_attack_extract(ng_api_client *api, const ng_dataset *pool, ng_model *surrogate,
                            const ng_dataset *test, const ng_extract_options *o, ng_extract_result *r)
{
    memset(r, 0, sizeof *r);
    const int C = ng_model_num_classes(surrogate);
    const int64_t dim = (int64_t)pool->c * pool->h * pool->w;
    if (o->budget < 1 || o->budget + o->fidelity > pool->n)
        return ng_fail(NG_E_INVALID, "extraction: budget %lld + fidelity %lld queries exceed the pool's %lld images",
                       (long long)o->budget, (long long)o->fidelity, (long long)pool->n);
    if (o->batch < 1) return ng_fail(NG_E_INVALID, "extraction: batch must be >= 1");
    /* the attacker's queries: a seeded random draw from its pool, then the fidelity hold-out */
    int64_t total = o->budget + o->fidelity;
    uint32_t *idx = malloc((size_t)pool->n * sizeof *idx);
    float *x = ng_calloc((size_t)total, (size_t)dim * sizeof *x);
    float *y = ng_calloc((size_t)total, (size_t)C * sizeof *y);
    int32_t *lab = ng_calloc((size_t)total, sizeof *lab);
    float *z = NULL;
    ng_status st = NG_OK;
    if (!idx || !x || !y || !lab) { st = ng_fail(NG_E_NOMEM, "out of memory"); goto out; }
    for (int64_t i = 0; i < pool->n; i++) idx[i] = (uint32_t)i;
    ng_rng rng;
    ng_rng_seed(&rng, o->seed);
    ng_rng_shuffle_u32(&rng, idx, (size_t)pool->n);
    for (int64_t i = 0; i < total; i++) memcpy(x + i * dim, pool->x + (int64_t)idx[i] * dim, (size_t)dim * sizeof *x);
    double t0 = ng_now();
    for (int64_t i = 0; i < total && st == NG_OK; i += o->batch) {
        int64_t b = total - i < o->batch ? total - i : o->batch;
        st = ng_api_query(api, x + i * dim, b, dim, C, y + i * C, lab + i);
    }
    r->query_seconds = ng_now() - t0;
    if (st != NG_OK) goto out;
    r->queries = o->budget;
    r->requests = ng_api_client_requests(api);
    if (o->use_labels)   /* a label-only API: train on one-hot answers */
        for (int64_t i = 0; i < o->budget; i++)
            for (int k = 0; k < C; k++) y[i * C + k] = k == lab[i] ? 1.0f : 0.0f;
    ng_train_result *tr = ng_calloc(1, sizeof *tr);
    if (!tr) { st = NG_E_NOMEM; goto out; }
    ng_train_options to = o->train;
    to.eval_each_epoch = 0;
    st = ng_train_soft(surrogate, x, y, o->budget, NULL, &to, tr);
    free(tr);
    if (st != NG_OK) goto out;
    if (test && (st = ng_evaluate(surrogate, test, 0, 256, o->train.threads, &r->accuracy, NULL, NULL)) != NG_OK) goto out;
    if (o->fidelity > 0) {
        z = ng_calloc((size_t)o->fidelity, (size_t)C * sizeof *z);
        if (!z) { st = NG_E_NOMEM; goto out; }
        if ((st = ng_model_predict(surrogate, x + o->budget * dim, o->fidelity, 256, o->train.threads, z)) != NG_OK) goto out;
        int64_t agree = 0;
        for (int64_t i = 0; i < o->fidelity; i++) {
            const float *zi = z + i * C;
            int b = 0;
            for (int k = 1; k < C; k++) if (zi[k] > zi[b]) b = k;
            agree += b == lab[o->budget + i];
        }
        r->fidelity = (double)agree / (double)o->fidelity;
        r->fidelity_n = o->fidelity;
    }
out:
    free(idx); free(x); free(y); free(lab); free(z);
    return st;
}
