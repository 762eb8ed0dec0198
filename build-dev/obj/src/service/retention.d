build-dev/obj/src/service/retention.o: src/service/retention.c \
 src/service/retention.h src/base/err.h src/service/app.h \
 src/base/config.h src/crypto/crypto.h src/store/db.h src/base/log.h \
 src/base/timeutil.h src/service/credits.h src/store/store.h \
 src/base/buf.h
src/service/retention.h:
src/base/err.h:
src/service/app.h:
src/base/config.h:
src/crypto/crypto.h:
src/store/db.h:
src/base/log.h:
src/base/timeutil.h:
src/service/credits.h:
src/store/store.h:
src/base/buf.h:
