build-dev/obj/src/http/server.o: src/http/server.c src/http/http.h \
 src/base/arena.h src/base/buf.h src/base/err.h src/base/embedded.h \
 src/base/log.h src/base/timeutil.h src/http/stream.h
src/http/http.h:
src/base/arena.h:
src/base/buf.h:
src/base/err.h:
src/base/embedded.h:
src/base/log.h:
src/base/timeutil.h:
src/http/stream.h:
