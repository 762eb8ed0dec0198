build-dev/obj/src/crypto/totp.o: src/crypto/totp.c src/crypto/totp.h \
 src/base/err.h src/base/buf.h
src/crypto/totp.h:
src/base/err.h:
src/base/buf.h:
