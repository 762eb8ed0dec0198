build-dev/obj/src/main.o: src/main.c src/base/err.h src/main_cmds.h
src/base/err.h:
src/main_cmds.h:
