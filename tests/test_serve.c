/* test_serve: the prediction API on a free loopback port, in process, under bad clients.
 * Malformed, oversized (declared and chunked), slow (stalled headers and bodies), unknown
 * tokens, over quota and over rate, NaN bodies and many concurrent keep-alive clients: the
 * server answers each with the right code and a JSON error, keeps answering the others
 * correctly (labels and probabilities equal to the engine's own), and its memory stays bounded.
 * ctest-label: slow */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <dirent.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include "tutil.h"
#include "nnguard/serve.h"
#include "core/core.h"

static int port;
static ng_dataset te;
static float *ref_probs;    /* the engine's probabilities for the first 256 test images */

static int dial(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    struct timeval tv = { 5, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) { close(fd); return -1; }
    return fd;
}

static void send_all(int fd, const void *b, size_t n)
{
    const char *p = b;
    while (n) { ssize_t w = send(fd, p, n, MSG_NOSIGNAL); if (w <= 0) return; p += w; n -= (size_t)w; }
}

/* Read one response (until the connection closes or Content-Length is complete); status code. */
static int read_response(int fd, char *body, size_t cap)
{
    static char buf[1 << 20];
    size_t n = 0;
    for (;;) {
        ssize_t r = recv(fd, buf + n, sizeof buf - 1 - n, 0);
        if (r <= 0) break;
        n += (size_t)r;
        buf[n] = 0;
        char *h = strstr(buf, "\r\n\r\n"), *cl = strcasestr(buf, "content-length:");
        if (h && cl && cl < h && n - (size_t)(h + 4 - buf) >= (size_t)atol(cl + 15)) break;
    }
    buf[n] = 0;
    int code = 0;
    sscanf(buf, "HTTP/1.1 %d", &code);
    char *h = strstr(buf, "\r\n\r\n");
    if (body) snprintf(body, cap, "%s", h ? h + 4 : "");
    return code;
}

static int raw_request(const char *req, size_t len, char *body, size_t cap)
{
    int fd = dial();
    if (fd < 0) return -1;
    send_all(fd, req, len);
    int code = read_response(fd, body, cap);
    close(fd);
    return code;
}

static int raw(const char *req, char *body, size_t cap) { return raw_request(req, strlen(req), body, cap); }

typedef struct resp { char *b; size_t n; } resp;
static size_t on_data(char *p, size_t sz, size_t nm, void *arg)
{
    resp *r = arg;
    char *nb = realloc(r->b, r->n + sz * nm + 1);
    if (!nb) return 0;
    r->b = nb;
    memcpy(r->b + r->n, p, sz * nm);
    r->n += sz * nm;
    r->b[r->n] = 0;
    return sz * nm;
}

/* POST images [i0, i0+k) as JSON with curl (reusing h); code, and checks the answer. */
static int post_images(CURL *h, int i0, int k, const char *token, int *correct)
{
    size_t cap = (size_t)k * 784 * 14 + 64;
    char *body = malloc(cap), *p = body;
    p += sprintf(p, "{\"inputs\":[");
    for (int i = 0; i < k; i++) {
        p += sprintf(p, i ? ",[" : "[");
        for (int j = 0; j < 784; j++) p += sprintf(p, j ? ",%.9g" : "%.9g", (double)te.x[(int64_t)(i0 + i) * 784 + j]);
        *p++ = ']';
    }
    p += sprintf(p, "]}");
    char url[64], auth[300];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/predict", port);
    struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");
    if (token) { snprintf(auth, sizeof auth, "Authorization: Bearer %s", token); hd = curl_slist_append(hd, auth); }
    resp r = {0};
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)(p - body));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
    long code = 0;
    if (curl_easy_perform(h) == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    if (correct) {
        *correct = 0;
        json_error_t err;
        json_t *j = r.b ? json_loads(r.b, 0, &err) : NULL;
        json_t *pr = json_object_get(j, "probabilities"), *lb = json_object_get(j, "labels");
        int ok = code == 200 && json_array_size(pr) == (size_t)k && json_array_size(lb) == (size_t)k;
        for (int i = 0; ok && i < k; i++) {
            const float *ref = ref_probs + (int64_t)(i0 + i) * 10;
            int best = 0;
            for (int c = 1; c < 10; c++) if (ref[c] > ref[best]) best = c;
            ok &= json_integer_value(json_array_get(lb, (size_t)i)) == best;
            /* the batch a request lands in changes GEMM rounding: equal to float precision */
            for (int c = 0; c < 10; c++)
                ok &= fabs(json_real_value(json_array_get(json_array_get(pr, (size_t)i), (size_t)c)) - ref[c]) <= 1e-6 + 1e-5 * ref[c];
        }
        *correct = ok;
        json_decref(j);
    }
    curl_slist_free_all(hd);
    free(r.b);
    free(body);
    return (int)code;
}

typedef struct worker_arg { int id, ok, sent; } worker_arg;
static void *client_thread(void *arg)
{
    worker_arg *a = arg;
    CURL *h = curl_easy_init();
    for (int r = 0; r < 16; r++) {
        int i0 = (a->id * 16 + r) % 250, k = 1 + (r % 3), correct;
        int code = post_images(h, i0, k, "abcdefghijklmnop0123", &correct);
        a->sent++;
        a->ok += code == 200 && correct;
    }
    curl_easy_cleanup(h);
    return NULL;
}

/* Descriptors of this process that are epoll instances (libmicrohttpd's epoll mode makes one
 * per daemon; select mode none). */
static int epoll_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char p[300], t[64];
        snprintf(p, sizeof p, "/proc/self/fd/%s", e->d_name);
        ssize_t k = readlink(p, t, sizeof t - 1);
        if (k > 0) { t[k] = 0; n += strstr(t, "eventpoll") != NULL; }
    }
    if (d) closedir(d);
    return n;
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    while (f && fgets(line, sizeof line, f)) if (!strncmp(line, "VmRSS:", 6)) v = atol(line + 6);
    if (f) fclose(f);
    return v;
}

int main(int argc, char **argv)
{
    (void)argc;
    ng_blas_reexec(argv);
    CHECK_OK(ng_init());
    curl_global_init(CURL_GLOBAL_DEFAULT);
    ng_model *m;
    CHECK_OK(ng_model_load(tu_path("fixtures/lenet5.onnx"), &m));
    ng_dataset full;
    CHECK_OK(ng_dataset_load_dir(NG_FMNIST_DIR, NG_SPLIT_TEST, &full));
    CHECK_OK(ng_dataset_head(&full, 256, &te));
    ng_dataset_free(&full);
    ref_probs = malloc(256 * 10 * sizeof *ref_probs);
    CHECK_OK(ng_model_predict_proba(m, te.x, 256, 1, ref_probs));
    const char *clients_txt = "abcdefghijklmnop0123 alice 0 0\nqrstuvwxyzABCDEF4567 bob 3 0\nGHIJKLMNOPQRSTUV8901 carol 0 1\n";
    ng_clients *cl;
    CHECK_OK(ng_clients_parse(clients_txt, strlen(clients_txt), "clients", &cl));
    ng_serve_options o = ng_serve_options_default();
    o.port = 0;
    o.threads = 2;
    o.max_body = 64 * 1024;
    o.max_images = 8;
    o.timeout_s = 1;
    o.max_batch = 32;
    o.clients = cl;
    ng_server *s;
    CHECK_OK(ng_server_start(m, &o, &s));
    port = ng_server_port(s);
    CHECK(port > 0);
    CHECKF(epoll_fds() == 0, "select mode expected (512 connections), %d epoll descriptors", epoll_fds());
    char body[4096];

    /* health and metrics need no token; predict does */
    CHECK(raw("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", body, sizeof body) == 200);
    CHECK(strstr(body, "\"ok\"") != NULL);
    const char *noauth = "POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 13\r\n"
                         "Connection: close\r\n\r\n{\"inputs\":[]}";
    CHECK(raw_request(noauth, strlen(noauth), body, sizeof body) == 401 && strstr(body, "\"error\""));
    CURL *h = curl_easy_init();
    int correct = 0;
    CHECK(post_images(h, 0, 1, "wrongwrongwrongwrong", NULL) == 401);
    CHECK(post_images(h, 0, 4, "abcdefghijklmnop0123", &correct) == 200 && correct);
    /* quota (bob: 3 images) and rate (carol: 1 request/s) */
    CHECK(post_images(h, 0, 2, "qrstuvwxyzABCDEF4567", NULL) == 200);
    CHECK(post_images(h, 0, 2, "qrstuvwxyzABCDEF4567", NULL) == 429);
    CHECK(post_images(h, 0, 1, "qrstuvwxyzABCDEF4567", NULL) == 200);
    CHECK(post_images(h, 0, 1, "GHIJKLMNOPQRSTUV8901", NULL) == 200);
    CHECK(post_images(h, 0, 1, "GHIJKLMNOPQRSTUV8901", NULL) == 429);
    /* too many images in one request, wrong shape, malformed, NaN, wrong content type, method, path */
    CHECK(post_images(h, 0, 9, "abcdefghijklmnop0123", NULL) == 413 || post_images(h, 0, 9, "abcdefghijklmnop0123", NULL) == 400);
    static const char *bad_bodies[] = {"{\"inputs\":[1,2,3]}", "{\"inputs\":[1,2", "not json", "{\"inputs\":[NaN]}", ""};
    for (size_t i = 0; i < sizeof bad_bodies / sizeof bad_bodies[0]; i++) {
        char req[512];
        int n = snprintf(req, sizeof req, "POST /v1/predict HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer abcdefghijklmnop0123\r\n"
                         "Content-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                         strlen(bad_bodies[i]), bad_bodies[i]);
        int code = raw_request(req, (size_t)n, body, sizeof body);
        CHECKF(code == 400 && strstr(body, "\"error\""), "body '%s' -> %d %s", bad_bodies[i], code, body);
    }
    {
        uint8_t req[512 + 784 * 4];
        int n = snprintf((char *)req, 512, "POST /v1/predict HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer abcdefghijklmnop0123\r\n"
                         "Content-Type: application/octet-stream\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", 784 * 4);
        memset(req + n, 0, 784 * 4);
        req[n + 4 * 100 + 3] = 0x7f; req[n + 4 * 100 + 2] = 0x80;   /* +inf */
        CHECK(raw_request((char *)req, (size_t)n + 784 * 4, body, sizeof body) == 400 && strstr(body, "not finite"));
        req[n + 4 * 100 + 3] = 0; req[n + 4 * 100 + 2] = 0;
        CHECK(raw_request((char *)req, (size_t)n + 784 * 4, body, sizeof body) == 200 && strstr(body, "\"labels\""));
    }
    const char *ctype = "POST /v1/predict HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer abcdefghijklmnop0123\r\n"
                        "Content-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi";
    CHECK(raw_request(ctype, strlen(ctype), body, sizeof body) == 415);
    CHECK(raw("GET /v1/predict HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", body, sizeof body) == 405);
    CHECK(raw("GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", body, sizeof body) == 404);
    CHECK(raw("BLAH\r\n\r\n", body, sizeof body) != 200);
    /* oversized: declared, and chunked without a length */
    const char *big = "POST /v1/predict HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer abcdefghijklmnop0123\r\n"
                      "Content-Type: application/json\r\nContent-Length: 100000000\r\nConnection: close\r\n\r\n{\"inputs\":[";
    CHECK(raw_request(big, strlen(big), body, sizeof body) == 413);
    {
        int fd = dial();
        const char *hdr = "POST /v1/predict HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer abcdefghijklmnop0123\r\n"
                          "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
        send_all(fd, hdr, strlen(hdr));
        char chunk[8192 + 16];
        memset(chunk, ' ', sizeof chunk);
        int hl = sprintf(chunk, "2000\r\n");
        chunk[hl + 8192] = '\r'; chunk[hl + 8193] = '\n';
        for (int i = 0; i < 12; i++) send_all(fd, chunk, (size_t)hl + 8194);   /* 96 KiB > 64 KiB */
        send_all(fd, "0\r\n\r\n", 5);
        CHECK(read_response(fd, body, sizeof body) == 413);
        close(fd);
    }
    /* slow clients: stalled headers and a stalled body hold a connection each; others are served */
    int slow1 = dial(), slow2 = dial();
    send_all(slow1, "POST /v1/predict HTTP/1.1\r\nHost: x\r\n", 36);
    const char *half = "POST /v1/predict HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer abcdefghijklmnop0123\r\n"
                       "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"inputs\":[";
    send_all(slow2, half, strlen(half));
    CHECK(post_images(h, 10, 2, "abcdefghijklmnop0123", &correct) == 200 && correct);
    char c1;
    double t0 = ng_now();
    ssize_t r1 = recv(slow1, &c1, 1, 0);   /* the server closes it after its 1 s timeout */
    CHECKF(r1 <= 0 && ng_now() - t0 < 4.5, "stalled connection not closed (%zd, %.1f s)", r1, ng_now() - t0);
    close(slow1);
    close(slow2);
    /* many concurrent keep-alive clients, 16 requests each; all answered correctly */
    long rss0 = rss_kb();
    enum { NT = 24 };
    pthread_t th[NT];
    worker_arg wa[NT];
    for (int i = 0; i < NT; i++) { wa[i] = (worker_arg){ .id = i }; pthread_create(&th[i], NULL, client_thread, &wa[i]); }
    int sent = 0, ok = 0;
    for (int i = 0; i < NT; i++) { pthread_join(th[i], NULL); sent += wa[i].sent; ok += wa[i].ok; }
    CHECKF(ok == sent, "%d of %d concurrent requests answered correctly", ok, sent);
    /* bounded memory: 300 more oversized and malformed requests do not grow the process */
    for (int i = 0; i < 300; i++) raw_request(big, strlen(big), body, sizeof body);
    for (int i = 0; i < 300; i++) raw_request(noauth, strlen(noauth), body, sizeof body);
    long rss1 = rss_kb();
#ifdef __SANITIZE_ADDRESS__
    const long rss_bound = 512 * 1024;   /* AddressSanitizer keeps up to 256 MB of freed memory in quarantine */
#else
    const long rss_bound = 64 * 1024;
#endif
    CHECKF(rss1 - rss0 < rss_bound, "RSS grew from %ld kB to %ld kB", rss0, rss1);
    /* metrics count what happened */
    size_t ml;
    char *met = ng_server_metrics(s, &ml);
    CHECK(met && strstr(met, "nnguard_requests_total{code=\"429\"} 2\n") && strstr(met, "nnguard_request_seconds_bucket{le=\"+Inf\"}"));
    CHECK(met && strstr(met, "nnguard_client_queries_total{client=\"bob\"} 3\n"));
    /* every sample line carries the nnguard_ prefix (two once lost a letter to a "\nn" escape) */
    int bad_names = 0;
    for (const char *ln = met; met && *ln; ln = strchr(ln, '\n') ? strchr(ln, '\n') + 1 : ln + strlen(ln))
        if (*ln != '#' && *ln != '\n' && strncmp(ln, "nnguard_", 8) != 0) bad_names++;
    CHECK(met && bad_names == 0);
    const char *bt = met ? strstr(met, "\nnnguard_batches_total ") : NULL, *bi = met ? strstr(met, "\nnnguard_batch_images_total ") : NULL;
    long long nb = bt ? atoll(bt + 23) : 0, ni = bi ? atoll(bi + 28) : 0;
    CHECKF(nb >= 1 && ni >= nb, "batches %lld, batch images %lld", nb, ni);
    free(met);
    CHECK(post_images(h, 20, 3, "abcdefghijklmnop0123", &correct) == 200 && correct);
    ng_server_stop(s, 5);
    /* a connection limit past select()'s FD_SETSIZE runs the loops in libmicrohttpd's external
     * epoll mode instead: the same answers, concurrent clients included */
    o.max_connections = 2048;
    CHECK_OK(ng_server_start(m, &o, &s));
    port = ng_server_port(s);
    CHECKF(epoll_fds() >= 2, "epoll mode expected (2048 connections), %d epoll descriptors", epoll_fds());
    CHECK(post_images(h, 40, 3, "abcdefghijklmnop0123", &correct) == 200 && correct);
    for (int i = 0; i < 8; i++) { wa[i] = (worker_arg){ .id = i }; pthread_create(&th[i], NULL, client_thread, &wa[i]); }
    sent = ok = 0;
    for (int i = 0; i < 8; i++) { pthread_join(th[i], NULL); sent += wa[i].sent; ok += wa[i].ok; }
    CHECKF(sent == 8 * 16 && ok == sent, "epoll mode: %d of %d concurrent requests answered correctly", ok, sent);
    curl_easy_cleanup(h);
    ng_server_stop(s, 5);
    ng_clients_free(cl);
    ng_model_free(m);
    ng_dataset_free(&te);
    free(ref_probs);
    curl_global_cleanup();
    return tu_done();
}
