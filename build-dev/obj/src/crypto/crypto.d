build-dev/obj/src/crypto/crypto.o: src/crypto/crypto.c \
 src/crypto/crypto.h src/base/err.h
src/crypto/crypto.h:
src/base/err.h:
