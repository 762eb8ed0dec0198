build-dev/obj/src/http/response.o: src/http/response.c src/http/http.h \
 src/base/arena.h src/base/buf.h src/base/err.h
src/http/http.h:
src/base/arena.h:
src/base/buf.h:
src/base/err.h:
