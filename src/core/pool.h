/* core/pool.h - a small fixed-size worker pool for data-parallel loops.
 *
 *     ng_pool *p = ng_pool_new(0);        // 0 = one worker per core
 *     ng_pool_for(p, n, body, arg);        // body(arg, i0, i1, worker) over [0,n) split in chunks
 *     ng_pool_free(p);
 *
 * One pool belongs to one ng_exec (no global pool); ng_pool_for is not reentrant
 * on the same pool but different pools run at once. With 1 worker it runs inline.
 */
#ifndef NG_CORE_POOL_H
#define NG_CORE_POOL_H
#include <stdint.h>
typedef struct ng_pool ng_pool;
typedef void (*ng_pool_body)(void *arg, int64_t i0, int64_t i1, int worker);
ng_pool *ng_pool_new(int threads);
void     ng_pool_free(ng_pool *p);
int      ng_pool_size(const ng_pool *p);
/* Split [0,n) into ng_pool_size(p) contiguous chunks, run them in parallel, wait. */
void     ng_pool_for(ng_pool *p, int64_t n, ng_pool_body body, void *arg);
int      ng_ncpu(void);
#endif
