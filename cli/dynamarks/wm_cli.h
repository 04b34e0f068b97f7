/* cli/dynamarks/wm_cli.h - DynaMarks verification shared by `nnguard wm verify` and
 * `nnguard eval-scheme dynamarks`. */
#ifndef NG_WM_CLI_H
#define NG_WM_CLI_H
#include <jansson.h>
#include "nnguard/nnguard.h"
#include "nnguard/dynamarks.h"

/* Soft mode: suspect and owner probabilities on the verification set, then the test. */
ng_status ng_wm_cli_verify_soft(ng_model *suspect, ng_model *owner, const ng_wm *wm, const ng_dataset *ver,
                                int threads, double threshold, ng_wm_result *r);
/* Label mode: the suspect's labels on client's recorded watermarked queries in the SQLite log. */
ng_status ng_wm_cli_verify_label(ng_model *suspect, const char *log_path, const char *client, double threshold,
                                 ng_wm_result *r);
void    ng_wm_cli_print(const ng_wm_result *r, const char *suspect, double threshold);
json_t *ng_wm_cli_json(const ng_wm_result *r);
#endif
