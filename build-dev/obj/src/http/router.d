build-dev/obj/src/http/router.o: src/http/router.c src/http/http.h \
 src/base/arena.h src/base/buf.h src/base/err.h src/base/log.h
src/http/http.h:
src/base/arena.h:
src/base/buf.h:
src/base/err.h:
src/base/log.h:
