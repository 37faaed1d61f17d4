/* hvdiag subcommands: each lives in cmd_<name>.c and returns the process exit code. */
#ifndef HVD_CMD_H
#define HVD_CMD_H

/* Exit codes shared by every subcommand. */
enum {
    HVD_EXIT_OK = 0,    /* ran; nothing at or above the failure threshold */
    HVD_EXIT_FOUND = 1, /* ran; found problems at or above the threshold */
    HVD_EXIT_USAGE = 2, /* usage or input errors */
};

/* argv[0] is the subcommand name. */
int hvd_cmd_analyze(int argc, char **argv);
int hvd_cmd_dump(int argc, char **argv);
int hvd_cmd_rules(int argc, char **argv);
int hvd_cmd_query(int argc, char **argv);

#endif
