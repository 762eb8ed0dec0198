build-dev/obj/src/engine/image/cli.o: src/engine/image/cli.c \
 src/engine/image/image.h src/base/err.h src/engine/image/pngio.h \
 src/main_cmds.h
src/engine/image/image.h:
src/base/err.h:
src/engine/image/pngio.h:
src/main_cmds.h:
