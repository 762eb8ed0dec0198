/* main_cmds.h: the commands main.c dispatches to; each lives in its own file
 * next to main.c (serve.c) or in the layer it belongs to. */
#ifndef ATELIER_MAIN_CMDS_H
#define ATELIER_MAIN_CMDS_H

int cmd_serve(int argc, char **argv);
int cmd_routes(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_privacy(int argc, char **argv);

struct config;
struct app;
/* --config, --listen, --data-dir into cfg (serve.c); 0, or 2 after a usage error. */
int cli_load_config(int argc, char **argv, struct config *cfg, const char *cmd);
/* Open the data directory, keys and database for cfg (serve.c); 0 or 1. */
int app_open(struct app *app, struct config *cfg);
void app_close(struct app *app);
int cmd_admin(int argc, char **argv);
int cmd_run(int argc, char **argv);   /* engine/llm/cli.c */
int cmd_model(int argc, char **argv); /* engine/llm/cli.c */
int cmd_bench(int argc, char **argv); /* engine/llm/cli.c */
int cmd_backup(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int privacy_bench_cmd(int argc, char **argv);
int cmd_draw(int argc, char **argv);

#endif
