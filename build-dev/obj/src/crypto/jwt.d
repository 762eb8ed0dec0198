build-dev/obj/src/crypto/jwt.o: src/crypto/jwt.c src/crypto/jwt.h \
 src/base/err.h
src/crypto/jwt.h:
src/base/err.h:
