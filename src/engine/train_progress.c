/* engine/train_progress.c - training progress on the log stream: a one-line bar redrawn
 * with \r when the stream is a terminal, one plain line per epoch otherwise. */
#include <unistd.h>
#include "engine/train_impl.h"
#include "core/core.h"

void ng_progress_init(ng_progress *p, FILE *f, int epochs, int64_t n)
{
    p->f = f;
    p->tty = f && isatty(fileno(f));
    p->epochs = epochs;
    p->n = n;
    p->last = 0;
}

static void fmt_time(char *buf, size_t len, double s)
{
    if (!(s >= 0) || s > 1e7) { snprintf(buf, len, "--"); return; }
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, len, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else if (t >= 60) snprintf(buf, len, "%ldm%02lds", t / 60, t % 60);
    else snprintf(buf, len, "%lds", t);
}

void ng_progress_batch(ng_progress *p, int epoch, int64_t done, double loss, double ips, double eta)
{
    if (!p->f || !p->tty) return;
    double now = ng_now();
    if (done < p->n && now - p->last < 0.1) return;   /* at most 10 redraws a second */
    p->last = now;
    enum { W = 24 };
    char bar[W + 1], eta_s[32];
    int fill = p->n > 0 ? (int)(W * done / p->n) : W;
    for (int i = 0; i < W; i++) bar[i] = i < fill ? '#' : '.';
    bar[W] = 0;
    fmt_time(eta_s, sizeof eta_s, eta);
    fprintf(p->f, "\repoch %d/%d [%s] %lld/%lld loss %.4f %.0f img/s ETA %s\033[K", epoch + 1, p->epochs, bar,
            (long long)done, (long long)p->n, loss, ips, eta_s);
    fflush(p->f);
}

void ng_progress_epoch(ng_progress *p, int epoch, double loss, double acc, double ips, double secs, float lr)
{
    if (!p->f) return;
    if (p->tty) fputs("\r\033[K", p->f);
    fprintf(p->f, "epoch %d/%d: loss %.4f", epoch + 1, p->epochs, loss);
    if (acc >= 0) fprintf(p->f, ", test acc %.2f%%", 100 * acc);
    fprintf(p->f, ", %.0f img/s, %.1f s, lr %.3g\n", ips, secs, (double)lr);
    fflush(p->f);
}
