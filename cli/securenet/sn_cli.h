/* cli/securenet/sn_cli.h - helpers shared by the SecureNet subcommands. */
#ifndef NG_SN_CLI_H
#define NG_SN_CLI_H
#include "nnguard/nnguard.h"

/* Load a license key file (256 bits; NG_E_KEY naming the file otherwise). */
ng_status ng_sn_load_key(const char *path, ng_key *k);
/* Parse a class list "0,1,2" / "0-4,7" into a mask of classes 0..classes-1 (NG_E_INVALID naming opt). */
ng_status ng_sn_parse_classes(const char *opt, const char *s, int classes, uint64_t *mask);
/* Parse --stamp patch|blend, --patch K, --alpha A into o (a usage error printed on failure: -1). */
int ng_sn_stamp_option(const char *cmd, int opt, const char *arg, ng_stamp_options *o);
enum { NG_SN_OPT_STAMP = 0x5100, NG_SN_OPT_PATCH, NG_SN_OPT_ALPHA };
#define NG_SN_STAMP_LONGOPTS \
    {"stamp", required_argument, NULL, NG_SN_OPT_STAMP}, \
    {"patch", required_argument, NULL, NG_SN_OPT_PATCH}, \
    {"alpha", required_argument, NULL, NG_SN_OPT_ALPHA}
#define NG_SN_STAMP_HELP \
    "  --stamp patch|blend     stamping mode (default patch)\n" \
    "  --patch K               patch side (default 4)\n" \
    "  --alpha A               blend weight in (0, 1] (default 0.1)\n"
#endif
