// Payload bundles end to end (build -> verify -> inspect -> unpack) and against hostile input:
// tampered files and manifests, wrong keys, traversal names, links, devices, duplicates, extra and
// missing files, zip bombs, truncation, limits, a full disk. Hostile archives are crafted with
// libarchive (hostilebundle.h); keys are generated per run and never stored.

#include "hostilebundle.h"

#include <payload/bundle.h>
#include <payload/version.h>

#include <QBuffer>
#include <QDir>
#include <QDirIterator>
#include <QFile>
#include <QRandomGenerator>
#include <QTemporaryDir>
#include <QTest>
#include <QTimeZone>

#include <csignal>
#include <sys/resource.h>

using namespace iptv::payload;
using hostile::Declared;
using hostile::Entry;

Q_DECLARE_METATYPE(iptv::payload::PayloadError)

class TestPayloadBundle : public QObject
{
    Q_OBJECT

    QTemporaryDir m_dir;
    SigningKey m_key;
    SigningKey m_otherKey;
    QString m_source;
    QString m_bundle;
    QByteArray m_random;

    QString path(const QString &name) const { return m_dir.filePath(name); }
    QList<PublicKey> trusted() const { return {m_key.publicKey()}; }

    static bool writeFile(const QString &file, const QByteArray &content, bool executable = false)
    {
        QDir().mkpath(QFileInfo(file).absolutePath());
        QFile f(file);
        if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate) || f.write(content) != content.size())
            return false;
        f.close();
        if (executable)
            return f.setPermissions(f.permissions() | QFile::ExeOwner | QFile::ExeGroup | QFile::ExeOther);
        return true;
    }

    static QByteArray readFile(const QString &file)
    {
        QFile f(file);
        return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
    }

    BundleMeta meta() const
    {
        BundleMeta m;
        m.version = u"1.4.0"_qs;
        m.channel = Channel::Experimental;
        m.minBoxVersion = u"1.2.0"_qs;
        m.notes = u"new guide grid"_qs;
        m.created = QDateTime::fromSecsSinceEpoch(1767571200, QTimeZone::utc());
        return m;
    }

    /// Sibling directories a failed unpack might have left behind.
    QStringList leftovers(const QString &target) const
    {
        const QFileInfo info(target);
        return QDir(info.absolutePath()).entryList({info.fileName() + u"*"_qs}, QDir::AllEntries | QDir::Hidden);
    }

    // The declared files of the hostile rows.
    static Declared mainQml() { return {u"qml/Main.qml"_qs, "import QtQuick\nItem {}\n"}; }
    static Declared runScript() { return {u"bin/run"_qs, "#!/bin/sh\necho hubris\n", true}; }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        m_key = SigningKey::generate();
        m_otherKey = SigningKey::generate();
        QVERIFY(!m_key.isNull() && !m_otherKey.isNull());
        m_source = path(u"src"_qs);
        m_random.resize(200 * 1024);
        QRandomGenerator rng(7);
        rng.fillRange(reinterpret_cast<quint32 *>(m_random.data()), m_random.size() / 4);
        QVERIFY(writeFile(m_source + u"/qml/Main.qml"_qs, "import QtQuick\nItem { id: root }\n"));
        QVERIFY(writeFile(m_source + u"/qml/guide/Grid.qml"_qs, QByteArray("// grid\n").repeated(500)));
        QVERIFY(writeFile(m_source + u"/images/logo.png"_qs, m_random));
        QVERIFY(writeFile(m_source + u"/bin/hubris"_qs, "#!/bin/sh\nexit 0\n", true));
        QVERIFY(writeFile(m_source + u"/empty"_qs, QByteArray()));
        QVERIFY(writeFile(m_source + u"/fonts/Süß.ttf"_qs, "unicode name"));
        QVERIFY(writeFile(m_source + u"/.hidden"_qs, "dotfile"));
        m_bundle = path(u"good.bundle"_qs);
        const BundleResult built = buildBundle(m_source, meta(), m_key, m_bundle);
        QVERIFY2(built.ok(), qPrintable(built.status.toString()));
    }

    void roundTrip()
    {
        const BundleResult v = verifyBundle(m_bundle, trusted());
        QVERIFY2(v.ok(), qPrintable(v.status.toString()));
        QCOMPARE(v.signature, SignatureState::Valid);
        QCOMPARE(v.signatureKeyId, m_key.keyId());
        QVERIFY(v.hasManifest);
        const Manifest &m = v.manifest;
        QCOMPARE(m.version, u"1.4.0"_qs);
        QCOMPARE(m.channel, Channel::Experimental);
        QCOMPARE(m.minBoxVersion, u"1.2.0"_qs);
        QCOMPARE(m.notes, u"new guide grid"_qs);
        QCOMPARE(m.created.toSecsSinceEpoch(), 1767571200);
        QCOMPARE(m.keyId, m_key.keyId());
        QCOMPARE(m.files.size(), 7);
        QVERIFY(m.file(u"bin/hubris"_qs) && m.file(u"bin/hubris"_qs)->executable);
        QVERIFY(m.file(u"qml/Main.qml"_qs) && !m.file(u"qml/Main.qml"_qs)->executable);
        QCOMPARE(m.file(u"images/logo.png"_qs)->size, m_random.size());
        QCOMPARE(m.totalSize, m_random.size() + 4000 + 33 + 17 + 12 + 7);

        // In memory and from a device: the same answer.
        const QByteArray bytes = readFile(m_bundle);
        QVERIFY(verifyBundleData(bytes, trusted()).ok());
        QBuffer buffer;
        buffer.setData(bytes);
        QVERIFY(buffer.open(QIODevice::ReadOnly));
        QVERIFY(verifyBundle(&buffer, trusted()).ok());

        // Inspect: manifest and signature state without unpacking.
        const BundleResult i = inspectBundle(m_bundle, trusted());
        QVERIFY(i.ok());
        QCOMPARE(i.signature, SignatureState::Valid);
        QCOMPARE(i.manifest, m);
        QCOMPARE(i.bundleSize, bytes.size());
        QCOMPARE(inspectBundle(m_bundle).signature, SignatureState::NotChecked);
        QCOMPARE(inspectBundle(m_bundle, {m_otherKey.publicKey()}).signature, SignatureState::UnknownKey);

        // Unpack: a complete slot, the payload identical to the source, modes kept.
        const QString slot = path(u"slots/a"_qs);
        QVERIFY(QDir().mkpath(path(u"slots"_qs)));
        const BundleResult u = unpackBundle(m_bundle, trusted(), slot);
        QVERIFY2(u.ok(), qPrintable(u.status.toString()));
        QCOMPARE(readFile(slot + u"/MANIFEST.json"_qs), v.manifestBytes);
        QVERIFY(readFile(slot + u"/MANIFEST.sig"_qs).startsWith("iptv-ed25519-sig:"));
        for (const ManifestFile &f : m.files) {
            const QString unpacked = slot + u"/payload/"_qs + f.path;
            QCOMPARE(readFile(unpacked), readFile(m_source + u'/' + f.path));
            QCOMPARE(QFileInfo(unpacked).isExecutable(), f.executable);
        }
        QCOMPARE(leftovers(slot), QStringList{u"a"_qs});
        QVERIFY(QFileInfo(slot).permissions().testFlag(QFile::ReadOther));
    }

    void reproducible()
    {
        const QString again = path(u"again.bundle"_qs);
        QVERIFY(buildBundle(m_source, meta(), m_key, again).ok());
        QCOMPARE(readFile(again), readFile(m_bundle));
    }

    void progress()
    {
        QStringList phases;
        qint64 lastWrite = 0;
        const auto record = [&](const QString &phase, qint64 done, qint64 total) {
            if (phases.isEmpty() || phases.constLast() != phase)
                phases.append(phase);
            if (phase == u"writing")
                lastWrite = done;
            QVERIFY(done <= total || total == 0);
        };
        const QString out = path(u"progress.bundle"_qs);
        const BundleResult r = buildBundle(m_source, meta(), m_key, out, {}, record);
        QVERIFY(r.ok());
        QCOMPARE(phases, (QStringList{u"hashing"_qs, u"writing"_qs, u"verifying"_qs}));
        QCOMPARE(lastWrite, r.manifest.totalSize);
    }

    void hostile_data()
    {
        QTest::addColumn<QList<Entry>>("entries");
        QTest::addColumn<PayloadError>("expected");
        QTest::addColumn<QString>("entry");
        QTest::addColumn<QString>("reason");

        const Declared a = mainQml();
        const Declared b = runScript();
        const QList<Entry> head = hostile::signedHead({a, b}, m_key);
        const Entry fa = hostile::fileEntry(a);
        const Entry fb = hostile::fileEntry(b);
        const auto named = [](Entry e, const QByteArray &name) {
            e.name = name;
            return e;
        };
        const auto withData = [](Entry e, const QByteArray &data) {
            e.data = data;
            return e;
        };
        const auto special = [](const QByteArray &name, hostile::Type type, const QByteArray &link = {}) {
            Entry e;
            e.name = name;
            e.type = type;
            e.link = link;
            return e;
        };
        const PayloadError none = PayloadError::None;

        QTest::newRow("honest") << (head + QList<Entry>{fa, fb}) << none << QString() << QString();
        QTest::newRow("directory entries") << (head + QList<Entry>{special("payload/", hostile::Type::Dir),
                                                                   special("payload/qml/", hostile::Type::Dir), fa, fb})
                                           << none << QString() << QString();
        QTest::newRow("tampered byte") << (head + QList<Entry>{withData(fa, "import QtQuicK\nItem {}\n"), fb})
                                       << PayloadError::HashMismatch << u"payload/qml/Main.qml"_qs << u"SHA-256"_qs;
        QTest::newRow("shorter file") << (head + QList<Entry>{withData(fa, "import"), fb}) << PayloadError::SizeMismatch
                                      << u"payload/qml/Main.qml"_qs << u"the manifest"_qs;
        QTest::newRow("longer file") << (head + QList<Entry>{withData(fa, a.data + "more"), fb})
                                     << PayloadError::SizeMismatch << u"payload/qml/Main.qml"_qs << u"the manifest"_qs;
        QTest::newRow("dot-dot") << (head + QList<Entry>{named(fa, "../x"), fb}) << PayloadError::PathTraversal
                                 << u"../x"_qs << u"'..'"_qs;
        QTest::newRow("absolute") << (head + QList<Entry>{named(fa, "/etc/x"), fb}) << PayloadError::PathTraversal
                                  << u"/etc/x"_qs << u"absolute"_qs;
        QTest::newRow("payload dot-dot") << (head + QList<Entry>{named(fa, "payload/../../x"), fb})
                                         << PayloadError::PathTraversal << u"payload/../../x"_qs << u"'..'"_qs;
        QTest::newRow("dot") << (head + QList<Entry>{named(fa, "payload/./qml/Main.qml"), fb})
                             << PayloadError::PathTraversal << u"payload/./qml/Main.qml"_qs << u"normalised"_qs;
        QTest::newRow("double slash") << (head + QList<Entry>{named(fa, "payload//qml/Main.qml"), fb})
                                      << PayloadError::PathTraversal << u"payload//qml/Main.qml"_qs << u"normalised"_qs;
        QTest::newRow("backslash") << (head + QList<Entry>{named(fa, "payload\\..\\..\\x"), fb})
                                   << PayloadError::PathTraversal << u"payload\\..\\..\\x"_qs << u"backslash"_qs;
        QTest::newRow("control character") << (head + QList<Entry>{named(fa, "payload/a\nb"), fb})
                                           << PayloadError::UnsupportedEntry << u"payload/a\nb"_qs << u"control"_qs;
        QTest::newRow("symlink") << (head + QList<Entry>{special("payload/qml/Main.qml", hostile::Type::Symlink, "/etc/passwd"), fb})
                                 << PayloadError::UnsupportedEntry << u"payload/qml/Main.qml"_qs << u"symbolic link to '/etc/passwd'"_qs;
        QTest::newRow("symlink dir") << (head + QList<Entry>{special("payload/qml", hostile::Type::Symlink, "/etc"), fa, fb})
                                     << PayloadError::UnsupportedEntry << u"payload/qml"_qs << u"symbolic link"_qs;
        QTest::newRow("hardlink") << (head + QList<Entry>{fa, special("payload/bin/run", hostile::Type::Hardlink, "payload/qml/Main.qml")})
                                  << PayloadError::UnsupportedEntry << u"payload/bin/run"_qs << u"hard link"_qs;
        QTest::newRow("fifo") << (head + QList<Entry>{fa, special("payload/bin/run", hostile::Type::Fifo)})
                              << PayloadError::UnsupportedEntry << u"payload/bin/run"_qs << u"fifo"_qs;
        QTest::newRow("device") << (head + QList<Entry>{fa, special("payload/bin/run", hostile::Type::CharDevice)})
                                << PayloadError::UnsupportedEntry << u"payload/bin/run"_qs << u"device"_qs;
        QTest::newRow("duplicate") << (head + QList<Entry>{fa, fa, fb}) << PayloadError::DuplicateEntry
                                   << u"payload/qml/Main.qml"_qs << u"twice"_qs;
        QTest::newRow("duplicate manifest") << (head + QList<Entry>{fa, fb, head.at(0)}) << PayloadError::DuplicateEntry
                                            << u"MANIFEST.json"_qs << u"twice"_qs;
        QTest::newRow("extra file") << (head + QList<Entry>{fa, fb, named(fa, "payload/extra.qml")})
                                    << PayloadError::ExtraFile << u"payload/extra.qml"_qs << u"not listed"_qs;
        QTest::newRow("outside payload") << (head + QList<Entry>{fa, fb, named(fa, "README")}) << PayloadError::ExtraFile
                                         << u"README"_qs << u"outside payload/"_qs;
        QTest::newRow("missing file") << (head + QList<Entry>{fa}) << PayloadError::MissingFile << u"payload/bin/run"_qs
                                      << u"not in the archive"_qs;
        QTest::newRow("empty archive") << QList<Entry>{} << PayloadError::BadManifest << u"MANIFEST.json"_qs << u"empty"_qs;
        QTest::newRow("manifest not first") << QList<Entry>{head.at(1), head.at(0), fa, fb} << PayloadError::BadManifest
                                            << u"MANIFEST.sig"_qs << u"first entry"_qs;
        QTest::newRow("unsigned") << QList<Entry>{head.at(0), fa, fb} << PayloadError::BadSignature << u"MANIFEST.sig"_qs
                                  << u"not signed"_qs;
        QTest::newRow("garbage signature") << QList<Entry>{head.at(0), Entry{"MANIFEST.sig", "hello"}, fa, fb}
                                           << PayloadError::BadSignature << u"MANIFEST.sig"_qs << u"not a signature"_qs;

        // Manifest changed after signing: a box must not believe a word of it.
        QByteArray tampered = head.at(0).data;
        tampered.replace("1.2.3", "9.9.9");
        QTest::newRow("tampered manifest") << QList<Entry>{Entry{"MANIFEST.json", tampered}, head.at(1), fa, fb}
                                           << PayloadError::BadSignature << u"MANIFEST.sig"_qs << u"does not match"_qs;
        const QList<Entry> otherHead = hostile::signedHead({a}, m_key);
        QTest::newRow("signature of another bundle") << QList<Entry>{head.at(0), otherHead.at(1), fa, fb}
                                                     << PayloadError::BadSignature << u"MANIFEST.sig"_qs << u"does not match"_qs;
        QTest::newRow("untrusted key") << (hostile::signedHead({a, b}, m_otherKey) + QList<Entry>{fa, fb})
                                       << PayloadError::UnknownKey << u"MANIFEST.sig"_qs << u"not trusted"_qs;
        // Another key's signature claiming the trusted key's id.
        QTest::newRow("forged key id") << QList<Entry>{head.at(0), Entry{"MANIFEST.sig", hostile::signatureText(m_otherKey, head.at(0).data, m_key.keyId())}, fa, fb}
                                       << PayloadError::BadSignature << u"MANIFEST.sig"_qs << u"does not match"_qs;
        // Signed, but the manifest itself names a file outside the payload.
        const Declared evil{u"../evil"_qs, "x"};
        QTest::newRow("signed traversal") << (hostile::signedHead({evil}, m_key) + QList<Entry>{hostile::fileEntry(evil)})
                                          << PayloadError::PathTraversal << u"MANIFEST.json"_qs << u"'..'"_qs;
        // The manifest says another key signed it.
        Manifest otherId = hostile::manifestFor({a, b}, m_otherKey.keyId());
        const QByteArray otherIdJson = otherId.toJson();
        QTest::newRow("key id mismatch") << QList<Entry>{Entry{"MANIFEST.json", otherIdJson}, Entry{"MANIFEST.sig", hostile::signatureText(m_key, otherIdJson)}, fa, fb}
                                         << PayloadError::BadManifest << u"MANIFEST.json"_qs << u"keyId"_qs;
        QTest::newRow("signed garbage manifest") << QList<Entry>{Entry{"MANIFEST.json", "{\"format\": 1"}, Entry{"MANIFEST.sig", hostile::signatureText(m_key, "{\"format\": 1")}}
                                                 << PayloadError::BadManifest << u"MANIFEST.json"_qs << u"not JSON"_qs;
        // Zip bombs: 64 MiB of zeros honestly listed and signed; a 5 MiB manifest of zeros.
        const Declared bomb{u"zeros.bin"_qs, QByteArray(), false, 64LL * 1024 * 1024};
        QTest::newRow("zip bomb") << (hostile::signedHead({bomb}, m_key) + QList<Entry>{hostile::fileEntry(bomb)})
                                  << PayloadError::TooLarge << u"payload/zeros.bin"_qs << u"zip bomb"_qs;
        QTest::newRow("manifest bomb") << QList<Entry>{Entry{"MANIFEST.json", {}, hostile::Type::File, {}, 0644, 5LL * 1024 * 1024}}
                                       << PayloadError::TooLarge << u"MANIFEST.json"_qs << u"larger than"_qs;
    }
    void hostile()
    {
        QFETCH(QList<Entry>, entries);
        QFETCH(PayloadError, expected);
        QFETCH(QString, entry);
        QFETCH(QString, reason);
        const QByteArray bytes = hostile::tarZstd(entries);
        const BundleResult r = verifyBundleData(bytes, trusted());
        QVERIFY2(r.status.error == expected,
                 qPrintable(u"expected %1, got %2"_qs.arg(errorName(expected), r.status.toString())));
        if (expected == PayloadError::None)
            return;
        QCOMPARE(r.status.entry, entry);
        QVERIFY2(r.status.message.contains(reason), qPrintable(r.status.toString()));

        // Unpacking the same bytes is refused the same way and leaves nothing behind.
        const QString file = path(u"hostile.bundle"_qs);
        QFile f(file);
        QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
        f.write(bytes);
        f.close();
        const QString target = path(u"hostile-slot"_qs);
        const BundleResult u = unpackBundle(file, trusted(), target);
        QCOMPARE(u.status.error, expected);
        QVERIFY(leftovers(target).isEmpty());
    }

    void sparseEntry()
    {
        // A sparse member's holes expand without decompressing anything: refused outright, even
        // when its content would match the manifest.
        const Declared zeros{u"sparse"_qs, QByteArray("head") + QByteArray(100 * 1024 - 4, '\0')};
        const QByteArray bytes = hostile::sparseTarZstd(hostile::signedHead({zeros}, m_key), "payload/sparse",
                                                        zeros.data.size(), "head");
        const BundleResult r = verifyBundleData(bytes, trusted());
        QCOMPARE(r.status.error, PayloadError::UnsupportedEntry);
        QCOMPARE(r.status.entry, u"payload/sparse"_qs);
        QVERIFY2(r.status.message.contains(u"sparse"_qs), qPrintable(r.status.toString()));
    }

    void notABundle_data()
    {
        QTest::addColumn<QByteArray>("bytes");
        QTest::addColumn<QString>("reason");
        QTest::newRow("empty") << QByteArray() << u"empty"_qs;
        QTest::newRow("text") << QByteArray("hello, this is not a bundle\n") << u"zstd"_qs;
        QTest::newRow("uncompressed tar") << hostile::plainTar(hostile::signedHead({mainQml()}, m_key)) << u"zstd"_qs;
        QTest::newRow("zstd of text") << hostile::tarZstd({}).left(4) + QByteArray(64, 'x') << u"zstd"_qs;
    }
    void notABundle()
    {
        QFETCH(QByteArray, bytes);
        QFETCH(QString, reason);
        const BundleResult r = verifyBundleData(bytes, trusted());
        QCOMPARE(r.status.error, PayloadError::BadArchive);
        QVERIFY2(r.status.message.contains(reason), qPrintable(r.status.toString()));
        QCOMPARE(inspectBundle(path(u"does-not-exist"_qs)).status.error, PayloadError::IoError);
    }

    void truncated_data()
    {
        QTest::addColumn<double>("fraction");
        QTest::newRow("header") << 0.001;
        QTest::newRow("10%") << 0.1;
        QTest::newRow("half") << 0.5;
        QTest::newRow("90%") << 0.9;
        QTest::newRow("last byte") << -1.0;
    }
    void truncated()
    {
        QFETCH(double, fraction);
        const QByteArray bytes = readFile(m_bundle);
        const qsizetype keep = fraction < 0 ? bytes.size() - 1 : qsizetype(double(bytes.size()) * fraction);
        const BundleResult r = verifyBundleData(bytes.left(keep), trusted());
        QCOMPARE(r.status.error, PayloadError::BadArchive);
        QVERIFY2(r.status.message.contains(u"truncated"_qs) || r.status.message.contains(u"zstd"_qs),
                 qPrintable(r.status.toString()));
    }

    void flippedBits()
    {
        // Any changed byte of the compressed file is caught (zstd checksum, tar checksum, signature or hash).
        const QByteArray bytes = readFile(m_bundle);
        for (qsizetype at : {qsizetype(20), bytes.size() / 3, bytes.size() / 2, bytes.size() - 10}) {
            QByteArray bent = bytes;
            bent[at] = char(bent[at] ^ 0x10);
            const BundleResult r = verifyBundleData(bent, trusted());
            QVERIFY2(!r.ok(), qPrintable(u"flip at %1 went unnoticed"_qs.arg(at)));
        }
    }

    void limits_data()
    {
        QTest::addColumn<Limits>("limits");
        QTest::addColumn<QString>("reason");
        Limits files;
        files.maxFiles = 3;
        QTest::newRow("files") << files << u"7 files, more than the limit of 3"_qs;
        Limits fileSize;
        fileSize.maxFileSize = 100 * 1024;
        QTest::newRow("file size") << fileSize << u"for one file"_qs;
        Limits total;
        total.maxTotalSize = 100 * 1024;
        QTest::newRow("total size") << total << u"bytes unpacked"_qs;
        Limits manifest;
        manifest.maxManifestSize = 200;
        QTest::newRow("manifest size") << manifest << u"larger than 200 bytes"_qs;
        Limits entries;
        entries.maxEntries = 4;
        QTest::newRow("entries") << entries << u"more than 4 archive entries"_qs;
        Limits ratio;
        ratio.ratioFloor = 1024;
        ratio.maxCompressionRatio = 1.0; // tar headers and the repeated Grid.qml compress, so this is over
        QTest::newRow("ratio") << ratio << u"zip bomb"_qs;
    }
    void limits()
    {
        QFETCH(Limits, limits);
        QFETCH(QString, reason);
        const BundleResult r = verifyBundle(m_bundle, trusted(), limits);
        QCOMPARE(r.status.error, PayloadError::TooLarge);
        QVERIFY2(r.status.message.contains(reason), qPrintable(r.status.toString()));
        // A builder with the same limits refuses to make such a bundle in the first place.
        const QString out = path(u"limited.bundle"_qs);
        const BundleResult b = buildBundle(m_source, meta(), m_key, out, limits);
        QCOMPARE(b.status.error, PayloadError::TooLarge);
        QVERIFY(!QFile::exists(out));
    }

    void unpackIntoExisting()
    {
        const QString slot = path(u"existing"_qs);
        QVERIFY(writeFile(slot + u"/keep.txt"_qs, "mine"));
        const BundleResult r = unpackBundle(m_bundle, trusted(), slot);
        QCOMPARE(r.status.error, PayloadError::IoError);
        QVERIFY(r.status.message.contains(u"already exists"_qs));
        QCOMPARE(readFile(slot + u"/keep.txt"_qs), QByteArray("mine"));
        QCOMPARE(QDir(slot).entryList(QDir::NoDotAndDotDot | QDir::AllEntries), QStringList{u"keep.txt"_qs});
    }

    void unpackWithoutParent()
    {
        const BundleResult r = unpackBundle(m_bundle, trusted(), path(u"no/such/parent/slot"_qs));
        QCOMPARE(r.status.error, PayloadError::IoError);
    }

    void unpackDiskFull()
    {
        // A file size limit makes writes fail with EFBIG, as a full disk fails them with ENOSPC.
        rlimit old{};
        QCOMPARE(getrlimit(RLIMIT_FSIZE, &old), 0);
        const auto oldHandler = std::signal(SIGXFSZ, SIG_IGN);
        rlimit small = old;
        small.rlim_cur = 64 * 1024; // below the 200 KiB logo
        QCOMPARE(setrlimit(RLIMIT_FSIZE, &small), 0);
        const QString slot = path(u"full"_qs);
        const BundleResult r = unpackBundle(m_bundle, trusted(), slot);
        setrlimit(RLIMIT_FSIZE, &old);
        std::signal(SIGXFSZ, oldHandler);
        QCOMPARE(r.status.error, PayloadError::DiskFull);
        QCOMPARE(r.status.entry, u"payload/images/logo.png"_qs);
        QVERIFY(leftovers(slot).isEmpty());
        // Once there is room again, the same bundle unpacks.
        QVERIFY(unpackBundle(m_bundle, trusted(), slot).ok());
    }

    void buildRefuses_data()
    {
        QTest::addColumn<QString>("setup");
        QTest::addColumn<PayloadError>("expected");
        QTest::newRow("symlink") << u"symlink"_qs << PayloadError::UnsupportedEntry;
        QTest::newRow("bad version") << u"version"_qs << PayloadError::BadInput;
        QTest::newRow("bad min box version") << u"minbox"_qs << PayloadError::BadInput;
        QTest::newRow("no source") << u"nosource"_qs << PayloadError::BadInput;
        QTest::newRow("no key") << u"nokey"_qs << PayloadError::BadKey;
        QTest::newRow("zip bomb") << u"bomb"_qs << PayloadError::TooLarge;
    }
    void buildRefuses()
    {
        QFETCH(QString, setup);
        QFETCH(PayloadError, expected);
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QString source = dir.filePath(u"src"_qs);
        QVERIFY(writeFile(source + u"/a.qml"_qs, "Item {}"));
        BundleMeta m = meta();
        SigningKey key = m_key;
        QString from = source;
        if (setup == u"symlink")
            QVERIFY(QFile::link(u"/etc/passwd"_qs, source + u"/passwd"_qs));
        else if (setup == u"version")
            m.version = u"one"_qs;
        else if (setup == u"minbox")
            m.minBoxVersion = u"1.x"_qs;
        else if (setup == u"nosource")
            from = dir.filePath(u"missing"_qs);
        else if (setup == u"nokey")
            key = SigningKey();
        else if (setup == u"bomb")
            QVERIFY(writeFile(source + u"/zeros.bin"_qs, QByteArray(12 * 1024 * 1024, '\0')));
        const QString out = dir.filePath(u"out.bundle"_qs);
        const BundleResult r = buildBundle(from, m, key, out);
        QCOMPARE(r.status.error, expected);
        QVERIFY(!QFile::exists(out));
        QCOMPARE(QDir(dir.path()).entryList({u"out.bundle*"_qs}), QStringList());
    }

    void checkUpgrade_data()
    {
        QTest::addColumn<QString>("box");
        QTest::addColumn<QString>("installed");
        QTest::addColumn<PayloadError>("expected");
        // The bundle is 1.4.0 for boxes from 1.2.0.
        QTest::newRow("fresh box") << u"1.2.0"_qs << QString() << PayloadError::None;
        QTest::newRow("upgrade") << u"1.3.0"_qs << u"1.3.9"_qs << PayloadError::None;
        QTest::newRow("from pre-release") << u"1.3.0"_qs << u"1.4.0-rc.2"_qs << PayloadError::None;
        QTest::newRow("box too old") << u"1.1.9"_qs << QString() << PayloadError::BoxTooOld;
        QTest::newRow("same version") << u"1.3.0"_qs << u"1.4.0"_qs << PayloadError::NotNewer;
        QTest::newRow("downgrade") << u"1.3.0"_qs << u"1.10.0"_qs << PayloadError::NotNewer;
    }
    void checkUpgrade()
    {
        QFETCH(QString, box);
        QFETCH(QString, installed);
        QFETCH(PayloadError, expected);
        const BundleResult r = inspectBundle(m_bundle, trusted());
        QVERIFY(r.ok());
        QCOMPARE(iptv::payload::checkUpgrade(r.manifest, box, installed).error, expected);
    }

    void inspectUntrusted()
    {
        // Cerberus shows what a bundle claims and whether its signature holds, without trusting it.
        const Declared a = mainQml();
        QList<Entry> head = hostile::signedHead({a}, m_key);
        head[0].data.replace("1.2.3", "6.6.6");
        QBuffer buffer;
        buffer.setData(hostile::tarZstd(head + QList<Entry>{hostile::fileEntry(a)}));
        QVERIFY(buffer.open(QIODevice::ReadOnly));
        const BundleResult r = inspectBundle(&buffer, trusted());
        QVERIFY(r.ok());
        QVERIFY(r.hasManifest);
        QCOMPARE(r.manifest.version, u"6.6.6"_qs);
        QCOMPARE(r.signature, SignatureState::Invalid);
    }
};

QTEST_GUILESS_MAIN(TestPayloadBundle)
#include "tst_payloadbundle.moc"
