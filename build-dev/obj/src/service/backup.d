build-dev/obj/src/service/backup.o: src/service/backup.c \
 src/service/backup.h src/base/config.h src/base/err.h src/service/app.h \
 src/crypto/crypto.h src/store/db.h src/base/log.h src/base/timeutil.h \
 src/store/backup.h src/store/privacy.h src/base/buf.h src/store/store.h
src/service/backup.h:
src/base/config.h:
src/base/err.h:
src/service/app.h:
src/crypto/crypto.h:
src/store/db.h:
src/base/log.h:
src/base/timeutil.h:
src/store/backup.h:
src/store/privacy.h:
src/base/buf.h:
src/store/store.h:
