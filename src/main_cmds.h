/* main_cmds.h: the commands main.c dispatches to; each lives in its own file
 * next to main.c (serve.c) or in the layer it belongs to. */
#ifndef ATELIER_MAIN_CMDS_H
#define ATELIER_MAIN_CMDS_H

int cmd_serve(int argc, char **argv);
int cmd_routes(int argc, char **argv);
int cmd_draw(int argc, char **argv);

#endif
