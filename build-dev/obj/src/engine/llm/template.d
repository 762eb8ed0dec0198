build-dev/obj/src/engine/llm/template.o: src/engine/llm/template.c \
 src/engine/llm/template.h src/base/buf.h src/base/err.h src/base/log.h
src/engine/llm/template.h:
src/base/buf.h:
src/base/err.h:
src/base/log.h:
