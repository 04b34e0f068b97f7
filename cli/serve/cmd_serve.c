/* cli/serve/cmd_serve.c - `nnguard serve MODEL`: the prediction HTTP API (nnguard/serve.h),
 * optionally watermarked with DynaMarks, for locked models unlocked in memory at start. */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "load_model.h"
#include "nnguard/dynamarks.h"
#include "nnguard/serve.h"

static int usage_serve(FILE *f)
{
    fprintf(f,
        "usage: nnguard serve MODEL [--port P] [--threads T] [options]\n\n"
        "Serve MODEL over HTTP/1.1 until SIGINT/SIGTERM (then drain and exit 0):\n"
        "  POST /v1/predict  {\"inputs\": [...]} or float32 (application/octet-stream) ->\n"
        "                    {\"probabilities\": [[...]], \"labels\": [...]}\n"
        "  GET /healthz, GET /metrics (Prometheus text)\n\n"
        "  --port P                TCP port (default 8080; 0 = any free port, printed at start)\n"
        "  --bind ADDR             IPv4 address to listen on (default 127.0.0.1)\n"
        "  --threads T             event loops, each HTTP + inference (default 0: all cores)\n"
        "  --max-batch N           images per forward pass when requests are batched (default 64)\n"
        "  --max-delay-us U        wait at most U microseconds for more requests to batch (default 500)\n"
        "  --max-body BYTES        larger request bodies get 413 (default 4194304)\n"
        "  --max-images N          images per request (default 1024)\n"
        "  --max-connections N     (default 512)  --timeout S  idle/slow connections closed (default 10)\n"
        "watermark (DynaMarks, SCHEMES.md section 4):\n"
        "  --wm-secret FILE        256-bit key file (nnguard keygen) keying the watermark\n"
        "  --wm-mode soft|label    soft (default): reshape the non-top probabilities, labels unchanged;\n"
        "                          label: a keyed fraction of answers gets a keyed wrong label\n"
        "  --wm-strength A         soft: strength range [A/2, A], or AMIN,AMAX (default 0.3,0.6)\n"
        "  --wm-rate R             label: fraction of answers changed (default 0.005)\n"
        "  --log DB                label: record every watermarked answer in this SQLite database\n"
        "clients:\n"
        "  --clients FILE          lines 'TOKEN NAME QUOTA RPS' (0600): bearer tokens required,\n"
        "                          over quota or rate gets 429\n"
        NG_CLI_KEY_HELP NG_CLI_ARCH_HELP
        "  -h, --help              this help\n");
    return f == stdout ? NG_EXIT_OK : NG_EXIT_USAGE;
}

int ng_cmd_serve(int argc, char **argv)
{
    enum { O_PORT = 0x5100, O_BIND, O_THREADS, O_MAXB, O_DELAY, O_BODY, O_IMAGES, O_CONNS, O_TIMEOUT,
           O_SECRET, O_MODE, O_STRENGTH, O_RATE, O_LOG, O_CLIENTS };
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {"port", required_argument, NULL, O_PORT}, {"bind", required_argument, NULL, O_BIND},
        {"threads", required_argument, NULL, O_THREADS}, {"max-batch", required_argument, NULL, O_MAXB},
        {"max-delay-us", required_argument, NULL, O_DELAY}, {"max-body", required_argument, NULL, O_BODY},
        {"max-images", required_argument, NULL, O_IMAGES}, {"max-connections", required_argument, NULL, O_CONNS},
        {"timeout", required_argument, NULL, O_TIMEOUT}, {"wm-secret", required_argument, NULL, O_SECRET},
        {"wm-mode", required_argument, NULL, O_MODE}, {"wm-strength", required_argument, NULL, O_STRENGTH},
        {"wm-rate", required_argument, NULL, O_RATE}, {"log", required_argument, NULL, O_LOG},
        {"clients", required_argument, NULL, O_CLIENTS},
        NG_CLI_KEY_LONGOPTS, NG_CLI_ARCH_LONGOPTS,
        {0, 0, 0, 0}};
    const char *cmd = "serve";
    ng_cli_keys keys = ng_cli_keys_default();
    ng_serve_options so = ng_serve_options_default();
    ng_wm_options wo = ng_wm_options_default();
    const char *secret = NULL, *log_path = NULL, *clients_path = NULL;
    int mode_set = 0, strength_set = 0, rate_set = 0;
    long long v;
    double d;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int r = ng_cli_keys_option(cmd, &keys, c, optarg);
        if (r < 0) return NG_EXIT_USAGE;
        if (r > 0) continue;
        switch (c) {
        case 'h': return usage_serve(stdout);
        case O_PORT: if (ng_cli_int(cmd, "--port", optarg, 0, 65535, &v)) return NG_EXIT_USAGE; so.port = (int)v; break;
        case O_BIND: so.bind = optarg; break;
        case O_THREADS: if (ng_cli_int(cmd, "--threads", optarg, 0, 256, &v)) return NG_EXIT_USAGE; so.threads = (int)v; break;
        case O_MAXB: if (ng_cli_int(cmd, "--max-batch", optarg, 1, 65536, &v)) return NG_EXIT_USAGE; so.max_batch = (int)v; break;
        case O_DELAY: if (ng_cli_int(cmd, "--max-delay-us", optarg, 0, 10000000, &v)) return NG_EXIT_USAGE; so.max_delay_us = (int)v; break;
        case O_BODY: if (ng_cli_int(cmd, "--max-body", optarg, 1024, (long long)1 << 34, &v)) return NG_EXIT_USAGE; so.max_body = (size_t)v; break;
        case O_IMAGES: if (ng_cli_int(cmd, "--max-images", optarg, 1, 1000000, &v)) return NG_EXIT_USAGE; so.max_images = v; break;
        case O_CONNS: if (ng_cli_int(cmd, "--max-connections", optarg, 1, 100000, &v)) return NG_EXIT_USAGE; so.max_connections = (int)v; break;
        case O_TIMEOUT: if (ng_cli_int(cmd, "--timeout", optarg, 1, 3600, &v)) return NG_EXIT_USAGE; so.timeout_s = (int)v; break;
        case O_SECRET: secret = optarg; break;
        case O_MODE:
            if (ng_wm_mode_parse(optarg) < 0) return ng_cli_usage(cmd, "--wm-mode is soft or label, not '%s'", optarg);
            wo.mode = (ng_wm_mode)ng_wm_mode_parse(optarg);
            mode_set = 1;
            break;
        case O_STRENGTH:
            if (ng_wm_parse_strength(optarg, &wo.a_min, &wo.a_max))
                return ng_cli_usage(cmd, "--wm-strength expects A or AMIN,AMAX with 0 <= AMIN <= AMAX < 1, not '%s'", optarg);
            strength_set = 1;
            break;
        case O_RATE: if (ng_cli_double(cmd, "--wm-rate", optarg, 0, 1, &d)) return NG_EXIT_USAGE; wo.rate = d; rate_set = 1; break;
        case O_LOG: log_path = optarg; break;
        case O_CLIENTS: clients_path = optarg; break;
        default: return ng_cli_usage(cmd, "unknown option or missing value in '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc) return ng_cli_usage(cmd, "MODEL is missing");
    if (optind + 1 < argc) return ng_cli_usage(cmd, "unexpected argument '%s'", argv[optind + 1]);
    if (!secret && (mode_set || strength_set || rate_set || log_path))
        return ng_cli_usage(cmd, "--wm-mode/--wm-strength/--wm-rate/--log need --wm-secret FILE");
    if (secret && wo.mode == NG_WM_SOFT && (rate_set || log_path))
        return ng_cli_usage(cmd, "--wm-rate and --log belong to --wm-mode label");
    if (secret && wo.mode == NG_WM_LABEL && strength_set)
        return ng_cli_usage(cmd, "--wm-strength belongs to --wm-mode soft");
    const char *path = argv[optind];
    ng_cli_keys_set_shape(&keys, 1, 28, 28);
    ng_model *m = NULL;
    ng_wm *wm = NULL;
    ng_clients *clients = NULL;
    ng_wmlog *log = NULL;
    ng_server *srv = NULL;
    ng_status st = ng_cli_open_model(cmd, path, &keys, &m);
    if (st == NG_OK && secret) {
        ng_key k;
        if ((st = ng_key_load(secret, NULL, 0, &k)) == NG_OK) {
            st = ng_wm_new(&k, ng_model_num_classes(m), &wo, &wm);
            ng_key_wipe(&k);
        }
        if (st != NG_OK && !strstr(ng_last_error(), secret)) ng_fail_ctx(st, secret);
    }
    if (st == NG_OK && clients_path) st = ng_clients_load(clients_path, &clients);
    if (st == NG_OK && log_path) st = ng_wmlog_sqlite_open(log_path, 0, &log);
    if (st != NG_OK) goto done;
    so.wm = wm;
    so.clients = clients;
    so.log = log;
    /* SIGINT/SIGTERM are taken by sigwait below: block them before any thread starts */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    if ((st = ng_server_start(m, &so, &srv)) != NG_OK) goto done;
    printf("nnguard serve: listening on http://%s:%d (%s%s%s%s)\n", so.bind, ng_server_port(srv), path,
           wm ? ", watermark " : "", wm ? ng_wm_mode_name(wo.mode) : "", clients ? ", clients required" : "");
    fflush(stdout);
    int sig = 0;
    sigwait(&sigs, &sig);
    fprintf(stderr, "nnguard serve: %s, draining\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    ng_server_stop(srv, 10.0);
    srv = NULL;
    if (log) log->ops->flush(log);
    fprintf(stderr, "nnguard serve: stopped\n");
done:
    ng_server_stop(srv, 0);
    ng_wmlog_close(log);
    ng_clients_free(clients);
    ng_wm_free(wm);
    ng_model_free(m);
    return st == NG_OK ? NG_EXIT_OK : ng_cli_fail(cmd, st);
}
