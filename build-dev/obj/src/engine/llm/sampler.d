build-dev/obj/src/engine/llm/sampler.o: src/engine/llm/sampler.c \
 src/engine/llm/sampler.h src/base/err.h
src/engine/llm/sampler.h:
src/base/err.h:
