build-dev/obj/src/service/receipt.o: src/service/receipt.c \
 src/service/receipt.h src/base/err.h src/crypto/crypto.h
src/service/receipt.h:
src/base/err.h:
src/crypto/crypto.h:
