build-dev/obj/src/base/config_model.o: src/base/config_model.c \
 src/base/config.h src/base/err.h
src/base/config.h:
src/base/err.h:
