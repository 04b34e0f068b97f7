/* test_loss_optim: loss values and gradients against hand computations (PyTorch 1.13
 * numbers, tests/ comments give the formulas) and finite differences; SGD and Adam
 * steps against torch.optim for three steps; frozen mask; optimizer state export. */
#include "tutil.h"

static const float Z[6] = {1, 2, 3, 1, -1, 0.5f};
static const int32_t Y[2] = {2, 0};
static const float T[6] = {0.2f, 0.3f, 0.5f, 1, 0, 0};

/* Worst |analytic - central difference| over the logits of loss fn(z). */
typedef float (*lossfn)(const float *z, float *dz);
static float f_xent(const float *z, float *dz) { return ng_loss_xent(z, Y, 2, 3, dz); }
static float f_soft(const float *z, float *dz) { return ng_loss_soft_xent(z, T, 2, 3, dz); }
static float f_kl(const float *z, float *dz) { return ng_loss_kl(z, T, 2, 3, dz); }
static float f_ent(const float *z, float *dz) { return ng_loss_entropy(z, 2, 3, dz); }

static double fd_error(lossfn f)
{
    float z[6], g[6], worst = 0;
    memcpy(z, Z, sizeof z);
    f(z, g);
    for (int i = 0; i < 6; i++) {
        const float h = 1e-2f;
        float zp[6], zm[6];
        memcpy(zp, z, sizeof z); memcpy(zm, z, sizeof z);
        zp[i] += h; zm[i] -= h;
        double fd = ((double)f(zp, NULL) - (double)f(zm, NULL)) / (2 * h);
        double e = fabs(fd - g[i]);
        if (e > worst) worst = (float)e;
    }
    return worst;
}

static void check_vec(const char *what, const float *got, const double *want, int n, double tol)
{
    for (int i = 0; i < n; i++)
        CHECKF(fabs(got[i] - want[i]) <= tol, "%s[%d] = %.9g, want %.9g", what, i, got[i], want[i]);
}

static const float G[3][3] = {{0.1f, 0.2f, -0.3f}, {-0.5f, 0.05f, 0.25f}, {0.3f, -0.1f, 0.0f}};

static void run_optim(const ng_optim_options *o, const double want[3][3], const char *what)
{
    ng_optim *opt;
    float p[3] = {1, -2, 0.5f};
    CHECK_OK(ng_optim_new(o, 3, &opt));
    for (int s = 0; s < 3; s++) {
        ng_optim_step(opt, p, G[s], NULL, o->lr);
        check_vec(what, p, want[s], 3, 2e-7);
    }
    CHECK(ng_optim_steps(opt) == 3);
    ng_optim_free(opt);
}

int main(void)
{
    CHECK_OK(ng_init());
    float g[6];
    /* xent: row 0 lse = 3 + log(1 + e^-1 + e^-2) = 3.40760596, loss 0.40760596;
     * row 1 lse = 1 + log(1 + e^-2 + e^-0.5) = 1.55495695, loss 0.55495695; mean 0.48128146.
     * gradient (softmax - onehot) / 2. */
    CHECK_NEAR(ng_loss_xent(Z, Y, 2, 3, g), 0.48128145933151245, 1e-7);
    const double gx[6] = {0.04501529037952423, 0.12236424535512924, -0.1673794984817505,
                          -0.21295151114463806, 0.03884778916835785, 0.17410370707511902};
    check_vec("dxent", g, gx, 6, 1e-7);
    CHECK_NEAR(ng_loss_soft_xent(Z, T, 2, 3, g), 0.8312814235687256, 1e-7);
    const double gs[6] = {-0.05498471111059189, -0.027635760605335236, 0.08262050151824951,
                          -0.21295151114463806, 0.03884778916835785, 0.17410370707511902};
    check_vec("dsoft", g, gs, 6, 1e-7);
    /* KL = soft_xent - H(t) = 0.83128142 - (-(0.2 ln 0.2 + 0.3 ln 0.3 + 0.5 ln 0.5)) / 2 */
    CHECK_NEAR(ng_loss_kl(Z, T, 2, 3, g), 0.3164549469947815, 1e-7);
    check_vec("dkl", g, gs, 6, 1e-7);
    CHECK_NEAR(ng_loss_entropy(Z, 2, 3, g), 0.85842365026474, 1e-7);
    const double ge[6] = {0.0709085464477539, 0.07038518041372299, -0.1412936896085739,
                          -0.0945809930562973, 0.06489543616771698, 0.029685569927096367};
    check_vec("dent", g, ge, 6, 1e-7);

    /* finite differences (h = 1e-2, central: error O(h^2) ~ 1e-5) */
    lossfn fns[4] = {f_xent, f_soft, f_kl, f_ent};
    const char *names[4] = {"xent", "soft_xent", "kl", "entropy"};
    for (int i = 0; i < 4; i++) {
        double e = fd_error(fns[i]);
        printf("finite differences %-9s max abs error %.2e\n", names[i], e);
        CHECKF(e < 1e-4, "%s: gradient differs from finite differences by %g", names[i], e);
    }

    /* stability: huge logits give a finite loss and exact gradients */
    const float big[3] = {1000, -1000, 999};
    const int32_t yb = 2;
    float gb[3];
    CHECK_NEAR(ng_loss_xent(big, &yb, 1, 3, gb), 1.31326163, 1e-5);  /* log(1 + e) */
    CHECK_NEAR(gb[0], 0.73105858, 1e-6);
    CHECK_NEAR(gb[1], 0.0, 1e-30);
    CHECK_NEAR(gb[2], 0.26894142 - 1, 1e-6);
    CHECK(isnan(ng_loss_xent(Z, (const int32_t[]){5, 0}, 2, 3, NULL)));  /* label out of range */

    /* optimizers against torch.optim (1.13), params {1,-2,0.5}, gradients G */
    ng_optim_options o = ng_optim_options_default(NG_OPTIM_SGD);
    o.lr = 0.1f; o.momentum = 0.9f; o.weight_decay = 0.01f;
    const double sgd[3][3] = {{0.9890000224113464, -2.0179998874664307, 0.5295000076293945},
                              {1.0281109809875488, -2.037181854248047, 0.530520498752594},
                              {1.0322827100753784, -2.0424084663391113, 0.5309084057807922}};
    run_optim(&o, sgd, "sgd momentum 0.9 wd 0.01");
    o = ng_optim_options_default(NG_OPTIM_SGD);
    o.lr = 0.1f;
    const double sgd0[3][3] = {{0.9900000095367432, -2.0199999809265137, 0.5300000309944153},
                               {1.0399999618530273, -2.0250000953674316, 0.5050000548362732},
                               {1.0099999904632568, -2.015000104904175, 0.5050000548362732}};
    run_optim(&o, sgd0, "plain sgd");
    o = ng_optim_options_default(NG_OPTIM_ADAM);
    CHECK(o.beta1 == 0.9f && o.beta2 == 0.999f && o.eps == 1e-8f && o.lr == 1e-3f);
    o.lr = 0.01f; o.weight_decay = 0.01f;
    const double adam[3][3] = {{0.9900000095367432, -2.009999990463257, 0.5099999904632568},
                               {0.9957942366600037, -2.0178298950195312, 0.5101984739303589},
                               {0.9962493181228638, -2.019366979598999, 0.5102682709693909}};
    run_optim(&o, adam, "adam wd 0.01");

    /* Adam without weight decay and mask: the vectorised loop */
    o.weight_decay = 0;
    const double adam0[3][3] = {{0.9900000095367432, -2.009999990463257, 0.5099999904632568},
                                {0.9959835410118103, -2.018306016921997, 0.5103812217712402},
                                {0.9967288970947266, -2.021291494369507, 0.5106759071350098}};
    run_optim(&o, adam0, "adam");
    {   /* ... bit-identical to the masked loop with every entry trained, over many steps */
        enum { N = 1003 };
        static float pa[N], pb[N], gr[N];
        static uint8_t ones[N];
        ng_rng rr;
        ng_rng_seed(&rr, 5);
        for (int i = 0; i < N; i++) { pa[i] = pb[i] = ng_rng_normal(&rr); ones[i] = 1; }
        ng_optim *fa, *fb;
        CHECK_OK(ng_optim_new(&o, N, &fa));
        CHECK_OK(ng_optim_new(&o, N, &fb));
        for (int s = 0; s < 20; s++) {
            for (int i = 0; i < N; i++) gr[i] = ng_rng_normal(&rr) * 0.1f;
            ng_optim_step(fa, pa, gr, NULL, o.lr);
            ng_optim_step(fb, pb, gr, ones, o.lr);
        }
        CHECK(memcmp(pa, pb, sizeof pa) == 0);
        ng_optim_free(fa); ng_optim_free(fb);
    }
    o.weight_decay = 0.01f;

    /* frozen mask: entry 1 keeps its value and its moments stay zero */
    ng_optim *opt;
    float p[3] = {1, -2, 0.5f};
    const uint8_t mask[3] = {1, 0, 1};
    CHECK_OK(ng_optim_new(&o, 3, &opt));
    CHECK(ng_optim_state_len(opt) == 6);
    for (int s = 0; s < 3; s++) ng_optim_step(opt, p, G[s], mask, o.lr);
    CHECK(p[1] == -2.0f);
    CHECK_NEAR(p[0], adam[2][0], 2e-7);
    CHECK_NEAR(p[2], adam[2][2], 2e-7);
    CHECK(ng_optim_state(opt)[1] == 0 && ng_optim_state(opt)[4] == 0);
    CHECK(ng_optim_state(opt)[0] != 0 && ng_optim_state(opt)[3] != 0);

    /* state export/import: a copy resumed from the saved state matches an uninterrupted run */
    ng_optim *a, *b;
    float pa[3] = {1, -2, 0.5f}, pb[3];
    CHECK_OK(ng_optim_new(&o, 3, &a));
    CHECK_OK(ng_optim_new(&o, 3, &b));
    ng_optim_step(a, pa, G[0], NULL, o.lr);
    memcpy(pb, pa, sizeof pa);
    memcpy(ng_optim_state(b), ng_optim_state(a), ng_optim_state_len(a) * sizeof(float));
    ng_optim_set_steps(b, ng_optim_steps(a));
    ng_optim_step(a, pa, G[1], NULL, o.lr);
    ng_optim_step(b, pb, G[1], NULL, o.lr);
    CHECK(memcmp(pa, pb, sizeof pa) == 0);
    ng_optim_free(a); ng_optim_free(b); ng_optim_free(opt);

    /* bad options are refused with a message */
    o.beta1 = 1.0f;
    CHECK_ST(ng_optim_new(&o, 3, &opt), NG_E_INVALID);
    CHECK(strstr(ng_last_error(), "beta") != NULL);
    return tu_done();
}
