/* cli/cli.h - the nnguard command-line tool: one file per subcommand (cmd_<name>.c),
 * dispatched by the table in main.c. Each subcommand parses its own options with
 * getopt_long, answers --help, and returns an exit code:
 *   0 ok, 1 failure (message on stderr), 2 usage error, 3 refused (wrong key, wrong state,
 *   existing output without --force, output = input, insecure key file). */
#ifndef NG_CLI_H
#define NG_CLI_H
#include <stdio.h>
#include "nnguard/nnguard.h"

typedef struct ng_cmd {
    const char *name;
    int (*run)(int argc, char **argv);   /* argv[0] is the subcommand name */
    const char *summary;                 /* one line for `nnguard --help` */
} ng_cmd;

#define NG_EXIT_OK 0
#define NG_EXIT_FAIL 1
#define NG_EXIT_USAGE 2
#define NG_EXIT_REFUSED 3

/* Print "nnguard <cmd>: <ng_last_error()>" and return the exit code for st (3 for key/state/auth/exists). */
int ng_cli_fail(const char *cmd, ng_status st);
/* Print a usage error and return 2. */
int ng_cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Parse helpers: return 0 and set *out, or print a usage error naming opt and return -1. */
int ng_cli_int(const char *cmd, const char *opt, const char *s, long long lo, long long hi, long long *out);
int ng_cli_double(const char *cmd, const char *opt, const char *s, double lo, double hi, double *out);
/* --schedule const|step|cosine into *out (an ng_sched_kind), or a usage error and -1. */
int ng_cli_sched(const char *cmd, const char *s, int *out);
/* The name of a schedule kind ("const", "step", "cosine"), for reports. */
const char *ng_cli_sched_name(int sched);
/* The check every command that writes files runs before doing any work, on its outputs outs[0..no)
 * and the files it reads ins[0..ni) (NULL entries are skipped). Refuses, naming the files:
 * an output that is an input (same device and inode, whatever the paths say: ./m.onnx, hard
 * links, symlinks) with NG_E_EXISTS even with force; two outputs that are one file and an output
 * that is a folder (NG_E_INVALID); an existing output unless force (NG_E_EXISTS: exit 3). The
 * atomic writer then replaces a forced output only when the command succeeds. */
ng_status ng_cli_check_outputs(const char *const *outs, size_t no, const char *const *ins, size_t ni, int force);
#define NG_CLI_OPT_FORCE 0x4e80   /* outside the ranges of load_model.h (0x4e00..) and the commands (0x100.., 0x4f00.., 0x5000..) */
#define NG_CLI_FORCE_LONGOPT {"force", no_argument, NULL, NG_CLI_OPT_FORCE}
#define NG_CLI_FORCE_HELP "  --force                 replace an existing output (never an input)\n"
/* Creates the folder dir for cmd (mode e.g. 0755) unless a folder of that name exists; refuses a
 * file of that name. *made says whether this call created it, so that a command that fails can
 * take back the empty folder it made: ng_cli_unmake_dir (which leaves a folder with files in it). */
int  ng_cli_make_dir(const char *cmd, const char *dir, int mode, int *made);
void ng_cli_unmake_dir(const char *dir, int made);
/* True when stderr is a terminal (progress bars). */
int ng_cli_tty(void);

/* Subcommands (cmd_*.c). */
int ng_cmd_info(int argc, char **argv);
int ng_cmd_eval(int argc, char **argv);
int ng_cmd_predict(int argc, char **argv);
int ng_cmd_convert(int argc, char **argv);
int ng_cmd_demo(int argc, char **argv);
int ng_cmd_attack(int argc, char **argv);
int ng_cmd_eval_scheme(int argc, char **argv);
int ng_cmd_evaluate(int argc, char **argv);
int ng_cmd_train(int argc, char **argv);
int ng_cmd_advparams(int argc, char **argv);
int ng_cmd_keygen(int argc, char **argv);
int ng_cmd_lock(int argc, char **argv);
int ng_cmd_unlock(int argc, char **argv);
int ng_cmd_serve(int argc, char **argv);
int ng_cmd_wm(int argc, char **argv);
int ng_cmd_license(int argc, char **argv);   /* the table in cmd_license.c */

/* SecureNet (cli/securenet/): `nnguard license` rows, and --license-key of eval and predict. */
int ng_cmd_license_keygen(int argc, char **argv);
int ng_cmd_license_harden(int argc, char **argv);   /* cli/securenet/cmd_license_harden.c */
int ng_cmd_license_stamp(int argc, char **argv);
int ng_cmd_license_train(int argc, char **argv);
int ng_cmd_license_replace(int argc, char **argv);
int ng_cmd_license_bind(int argc, char **argv);     /* cli/securenet/cmd_license_bind.c */
int ng_cmd_license_info(int argc, char **argv);
#define NG_CLI_OPT_LICENSE_KEY 0x4e90
#define NG_CLI_LICENSE_KEY_HELP \
    "  --license-key KEY       SecureNet license key file: stamp the inputs before the forward pass\n"
/* Stamp n inputs x (c x h x w) for the licensed model m (from path) with the key in key_file:
 * NG_E_STATE when m has no license metadata; a note on stderr when the key is not the model's.
 * A bound model (license train --bind) is first unlocked in memory with the key's slot: a key
 * that opens no slot is NG_E_KEY naming key_file (nothing runs). */
ng_status ng_cli_license_stamp(const char *cmd, const char *path, ng_model *m, const char *key_file, float *x,
                               int64_t n, int c, int h, int w);
/* A note on stderr when m is a bound licensed model run without --license-key. */
void ng_cli_license_note(const char *cmd, const char *path, const ng_model *m);

/* Sealed models and signed licenses (cli/seal/). */
int ng_cmd_seal(int argc, char **argv);
int ng_cmd_unseal(int argc, char **argv);
int ng_cmd_identity(int argc, char **argv);

#endif
