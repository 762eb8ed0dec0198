build-dev/obj/src/api/textreq.o: src/api/textreq.c src/api/textreq.h \
 src/base/arena.h src/base/err.h src/engine/llm/template.h src/base/buf.h
src/api/textreq.h:
src/base/arena.h:
src/base/err.h:
src/engine/llm/template.h:
src/base/buf.h:
