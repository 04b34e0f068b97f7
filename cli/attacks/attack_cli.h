/* cli/attack_cli.h - shared option parsing and runners of `nnguard attack` and `nnguard eval-scheme`. */
#ifndef NG_ATTACK_CLI_H
#define NG_ATTACK_CLI_H
#include "nnguard/attack.h"

#define NG_ATTACK_MAX_RATES 32
typedef struct ng_attack_args {
    const char *model, *data, *advparams_key;
    ng_finetune_options tune;
    double rates[NG_ATTACK_MAX_RATES];
    int n_rates, prune_epochs, trials, json;
    int64_t limit;
    /* fgsm / pgd / backdoor (attack_adv.c) */
    const char *license_key, *output;
    double eps, poison;
    int steps, target, insider, force, epochs_set, fraction_set;
} ng_attack_args;

/* 0 ok, 1 --help printed, -1 usage error printed. argv[0] is the attack kind. */
int ng_attack_parse(ng_attack_args *a, int argc, char **argv);
int ng_attack_run_finetune(const ng_attack_args *a);
int ng_attack_run_prune(const ng_attack_args *a);
int ng_attack_run_keyguess(const ng_attack_args *a);
int ng_attack_run_adaptive(const ng_attack_args *a);
/* SecureNet (attack_license.c): is path a licensed model; keyguess on it; trigger reverse-engineering. */
int ng_attack_is_licensed(const char *path);
int ng_attack_run_license_keyguess(const ng_attack_args *a);
int ng_attack_run_reverse_trigger(const ng_attack_args *a);
/* Adversarial examples (fgsm: steps 1, pgd) and the BadNets-style backdoor (attack_adv.c). */
int ng_attack_run_adversarial(const ng_attack_args *a, int pgd);
int ng_attack_run_backdoor(const ng_attack_args *a);
/* The adaptive attack's detector table (r->topk > 0): printed with `indent` to stdout when
 * print, and returned as a JSON array of {detector, found, top_k, perturbed, random_expected}. */
struct json_t;
struct json_t *ng_attack_detector_table(const ng_adaptive_result *r, const char *indent, int print);
/* `attack extract` parses its own options (argv[0] = "extract"). */
int ng_attack_run_extract(int argc, char **argv);
#endif
