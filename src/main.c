/*
 * main.c: the command-line entry points, and the wiring of the layers.
 *
 *   atelier serve | routes | version | help | ...
 *
 * Each command is a row of the table below; a later capability adds its row
 * and nothing else here.
 */
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "main_cmds.h"

#ifndef ATELIER_VERSION
#define ATELIER_VERSION "0.1.0"
#endif

static int cmd_version(int argc, char **argv);
static int cmd_help(int argc, char **argv);

static const struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;
} commands[] = {
	{"serve", cmd_serve, "serve [--config FILE] [--listen HOST:PORT] [--data-dir DIR]   run the server"},
	{"config", cmd_config, "config [--config FILE]      print the effective configuration"},
	{"routes", cmd_routes, "routes                      print every route with its guard"},
	{"privacy", cmd_privacy, "privacy retention [--dry-run] | verify-receipt FILE | publish --version V --effective DATE | bench   privacy tools"},
	{"backup", cmd_backup, "backup OUT [--escrow FILE] [--data-dir DIR]   encrypted online backup (erased people stay unreadable)"},
	{"restore", cmd_restore, "restore IN [--force] [--escrow FILE] [--data-dir DIR]   restore into a stopped data directory"},
	{"admin", cmd_admin, "admin create-user ... | grant --user ID --credits N --reason R   staff accounts, manual credit"},
	{"run", cmd_run, "run MODEL.gguf -p TEXT [-n N] [--seed N] [--temp T] [--threads N] [--chat]   generate text"},
	{"model", cmd_model, "model info MODEL.gguf       print a model's metadata and tensors"},
	{"bench", cmd_bench, "bench MODEL.gguf [--threads N] [--prompt N] [--gen N] [--seqs N]   prompt and generation speed (--seqs: batched decode of N sequences)"},
	{"draw", cmd_draw, "draw MODEL.safetensors -p PROMPT [--steps N] [--seed N] [--guidance G] [--sampler ddim|euler] [--init IMG.png --strength S] -o OUT.png   generate an image"},
	{"version", cmd_version, "version                     print the version"},
	{"help", cmd_help, "help                        this text"},
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

static int cmd_version(int argc, char **argv)
{
	printf("atelier %s\n", ATELIER_VERSION);
	return 0;
}

static int cmd_help(int argc, char **argv)
{
	printf("usage: atelier COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		printf("  %s\n", commands[i].usage);
	printf("\nConfiguration: an INI file (--config) whose every key can be overridden by\n"
	       "ATELIER_<SECTION>_<KEY> environment variables. See README.md.\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		cmd_help(0, NULL);
		return 2;
	}
	const char *name = argv[1];
	if (!strcmp(name, "--help") || !strcmp(name, "-h"))
		return cmd_help(0, NULL);
	if (!strcmp(name, "--version"))
		return cmd_version(0, NULL);
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "atelier: unknown command '%s' (try 'atelier help')\n", name);
	return 2;
}
