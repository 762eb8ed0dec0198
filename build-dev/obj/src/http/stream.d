build-dev/obj/src/http/stream.o: src/http/stream.c src/http/stream.h \
 src/http/http.h src/base/arena.h src/base/buf.h src/base/err.h
src/http/stream.h:
src/http/http.h:
src/base/arena.h:
src/base/buf.h:
src/base/err.h:
