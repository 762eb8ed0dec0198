build-dev/obj/src/service/payments.o: src/service/payments.c \
 src/service/payments.h src/base/err.h src/service/app.h \
 src/base/config.h src/crypto/crypto.h src/store/db.h src/base/buf.h \
 src/base/log.h src/store/store.h
src/service/payments.h:
src/base/err.h:
src/service/app.h:
src/base/config.h:
src/crypto/crypto.h:
src/store/db.h:
src/base/buf.h:
src/base/log.h:
src/store/store.h:
