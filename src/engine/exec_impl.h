/* engine/exec_impl.h - what exec.c, exec_fuse.c and exec_sub.c share: the exec's state and the
 * steps of a forward pass. Internal to the engine (not installed). */
#ifndef NG_EXEC_IMPL_H
#define NG_EXEC_IMPL_H
#include "engine/graph.h"
#include "engine/ops.h"

/* ng_exec.fuse: what inference (and, for FUSE_RELU, training) folds into node i (exec_fuse.c). */
enum { FUSE_RELU = 1, FUSE_CLIP = 2, FUSE_ADD = 3 };

struct ng_exec;
/* The context handed to kernels, with a way back to its exec (for scratch). */
typedef struct exec_ctx { ng_opctx c; struct ng_exec *e; } exec_ctx;

struct ng_exec {
    ng_model  *m;
    ng_pool   *pool;
    int        training;
    ng_rng     rng;
    int64_t    batch;        /* batch of the current shapes; 0 before the first forward */
    int        ran;          /* a forward pass ran at batch (backward allowed) */
    ng_shape  *shapes;       /* per value */
    ng_tensor *t;            /* per value: data + shape for this batch */
    float    **buf;          /* per activation value, owned */
    size_t    *cap;          /* floats */
    ng_tensor *g;            /* per value: gradient view */
    float    **gbuf;         /* per activation value (and graph input copy), owned */
    size_t    *gcap;
    char      *req;          /* per value: its gradient is needed in this backward */
    float     *xcopy;        /* copy of the graph input (kept for backward) */
    size_t     xcap;
    int        subenv;       /* NG_SUBBATCH: -1 unset (auto), 0 off, k > 0 images per sub-batch */
    int        subauto;      /* auto: -1 not decided yet, else the sub-batch size (0: none) */
    int        subok;        /* the graph runs image by image (per_image), once subauto is decided */
    int64_t    sub_n;        /* the last forward ran a batch of sub_n in sub-batches (backward reruns it) */
    int64_t    sub_sb;       /* of sub_sb images each (the last one may have fewer) */
    float     *yfull;        /* that forward's whole output */
    size_t     ycap;
    void     **saved;        /* per node */
    size_t    *saved_size;
    ng_wcache *wcache;       /* per node, with const_params (NULL without): transformed weights */
    float    **scratch;      /* per worker */
    size_t    *scratch_cap;
    int        nworkers;
    const ng_tensor **ins;   /* per node, from in_off[i]: pointers into t (NULL: absent) */
    ng_tensor **outs;        /* per node, NG_NODE_MAX_OUT each */
    const ng_tensor **douts;
    ng_tensor **dins;
    int       *in_off;
    double    *prof;         /* NG_PROFILE set: seconds per node, forward then backward (2 x nodes) */
    char      *fuse;         /* per node: FUSE_RELU / FUSE_CLIP / FUSE_ADD when inference may fold the Relu /
                                Clip / Add node right after it into it, else 0 */
    char      *addc;         /* per node: a Conv whose output only the Add right after it reads: 1 + the
                                Add's other input slot (FUSE_ADD once the shapes say they match), else 0 */
    int       *fpool;        /* per node: the MaxPool node inference may fold into this Conv, or -1 */
    char      *gskip;        /* per value: backward needs no gradient buffer for it (relu_bwd_fused) */
    int        pooled;       /* MaxPools the last forward folded (their inputs were never written) */
    int        clipped;      /* Clips and Adds the last forward folded (their inputs were never written) */
    int        added;        /* of those, Adds (ng_exec_folded_adds) */
    int        grads;        /* backward ran on this exec: fold no more MaxPools (see ng_exec_backward) */
    int        winograd;     /* NG_WINOGRAD is not "0": inference Convs may use Winograd (ng_opctx.winograd) */
    int        wino_train;   /* NG_WINOGRAD_TRAIN is "1": training Convs may too (forward and dX) */
    int        conv_direct;  /* NG_CONV_DIRECT is not "0" (ng_opctx.conv_direct) */
    int        conv_direct_bwd; /* NG_CONV_DIRECT_BWD is not "0" (ng_opctx.conv_direct_bwd) */
    int        dconv16;      /* NG_DCONV16 is not "0" (ng_opctx.dconv16) */
    int        pwconv;       /* NG_PWCONV is not "0" (ng_opctx.pwconv) */
    int        dwflat;       /* NG_DWFLAT is not "0" (ng_opctx.dwflat) */
    int        pwgemm;       /* NG_PWGEMM is not "0" (ng_opctx.pwgemm) */
    int        wino_pw;      /* NG_WINO_PW is not "0" (ng_opctx.wino_pw) */
    int        wino_small;   /* NG_WINO_SMALL is not "0" (ng_opctx.wino_small) */
    int        gconv;        /* NG_GCONV is not "0" (ng_opctx.gconv) */
    int        addfuse;      /* NG_ADDFUSE is not "0": Conv -> Add may fuse (fuses_add) */
    int        gemv;         /* NG_GEMV is not "0" (ng_opctx.gemv) */
    int        memplan;      /* NG_MEMPLAN is not "0": inference forwards share buffers (memplan.h) */
    int        train_fuse;   /* NG_TRAIN_FUSION is not "0": training folds Relus too (fuses_relu) */
    int        train_fused;  /* the last forward was a training one that folded them */
    int        planned;      /* the last forward ran on shared buffers (backward must rerun it) */
    int64_t    plan_batch;   /* batch the plan below is for; 0: none yet */
    int       *slot;         /* per value: its shared buffer, or -1 (its own) */
    size_t    *slot_size;    /* per shared buffer: floats needed (n_vals entries) */
    float    **sbuf;         /* the shared buffers, owned */
    size_t    *scap;
    int        nslots;
};

/* Plan the fusions of e's graph: e->fuse, addc, fpool (and gskip allocated); exec_fuse.c. */
ng_status ng_exec_fusion_plan(ng_exec *e);
/* Make *buf hold at least n floats (contents not kept); 0 when out of memory. */
int ng_exec_grow(float **buf, size_t *cap, size_t n);
/* Shapes and buffers for batch n (no-op when the batch is unchanged). */
ng_status ng_exec_prepare(ng_exec *e, int64_t n);
/* Every node in order on the input in e->xcopy (shapes and buffers prepared). */
ng_status ng_exec_run_forward(ng_exec *e);
/* The sub-batch an inference forward of n images runs in, or 0 for the whole batch (exec_sub.c). */
int64_t ng_exec_subbatch_size(ng_exec *e, int64_t n);
/* The inference forward of n images in sub-batches of sb (exec_sub.c). */
ng_status ng_exec_forward_sub(ng_exec *e, const float *x, int64_t n, int64_t sb, const float **out,
                              ng_shape *out_shape);
#endif
