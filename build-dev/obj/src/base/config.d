build-dev/obj/src/base/config.o: src/base/config.c src/base/config.h \
 src/base/err.h
src/base/config.h:
src/base/err.h:
