build-dev/obj/src/service/vault.o: src/service/vault.c \
 src/service/vault.h src/base/buf.h src/base/err.h src/crypto/crypto.h \
 src/store/db.h src/store/store.h
src/service/vault.h:
src/base/buf.h:
src/base/err.h:
src/crypto/crypto.h:
src/store/db.h:
src/store/store.h:
