build-dev/obj/src/service/password.o: src/service/password.c \
 src/service/password.h src/base/config.h src/base/err.h src/base/log.h \
 src/crypto/crypto.h
src/service/password.h:
src/base/config.h:
src/base/err.h:
src/base/log.h:
src/crypto/crypto.h:
