// End to end: the real iptv-payload binary through QProcess: keygen, build, verify, inspect, unpack,
// and the exit codes and messages of refused bundles.

#include "../common/clirun.h"
#include "hostilebundle.h"

#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

class TestIptvPayload : public QObject
{
    Q_OBJECT

    using Run = CliRun;
    static Run runTool(const QStringList &arguments) { return runCli(QStringLiteral(IPTV_PAYLOAD_BINARY), arguments); }

    QTemporaryDir m_dir;
    QString path(const QString &name) const { return m_dir.filePath(name); }

    static bool writeFile(const QString &file, const QByteArray &content)
    {
        QFile f(file);
        return f.open(QIODevice::WriteOnly | QIODevice::Truncate) && f.write(content) == content.size();
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        QVERIFY(QDir().mkpath(path(u"src/qml"_qs)));
        QVERIFY(writeFile(path(u"src/qml/Main.qml"_qs), "import QtQuick\nItem {}\n"));
        QVERIFY(writeFile(path(u"src/version.txt"_qs), "1.5.0\n"));
        for (const QString &name : {u"release"_qs, u"other"_qs}) {
            const Run r = runTool({u"keygen"_qs, u"-o"_qs, path(name)});
            QVERIFY2(r.exitCode == 0, qPrintable(r.err));
            QVERIFY(r.out.contains(u"key id"_qs));
        }
        QCOMPARE(QFileInfo(path(u"release.key"_qs)).permissions() & (QFile::ReadGroup | QFile::ReadOther),
                 QFile::Permissions());
        const Run b = runTool({u"build"_qs, path(u"src"_qs), u"--version"_qs, u"1.5.0"_qs, u"--channel"_qs, u"clean"_qs,
                               u"--min-box-version"_qs, u"1.0.0"_qs, u"--key"_qs, path(u"release.key"_qs), u"--notes"_qs,
                               u"faster grid"_qs, u"--created"_qs, u"2026-01-05T00:00:00Z"_qs, u"-q"_qs, u"-o"_qs,
                               path(u"r.bundle"_qs)});
        QVERIFY2(b.exitCode == 0, qPrintable(b.err));
        QVERIFY2(b.out.contains(u"signature        valid"_qs), qPrintable(b.out));
    }

    void help_data()
    {
        QTest::addColumn<QStringList>("arguments");
        QTest::addColumn<QString>("expected");
        QTest::newRow("overview") << QStringList{u"--help"_qs} << u"Commands:"_qs;
        QTest::newRow("keygen") << QStringList{u"keygen"_qs, u"--help"_qs} << u"iptv-payload keygen"_qs;
        QTest::newRow("build") << QStringList{u"build"_qs, u"--help"_qs} << u"--min-box-version"_qs;
        QTest::newRow("verify") << QStringList{u"verify"_qs, u"--help"_qs} << u"--trust"_qs;
        QTest::newRow("inspect") << QStringList{u"inspect"_qs, u"-h"_qs} << u"--json"_qs;
        QTest::newRow("unpack") << QStringList{u"unpack"_qs, u"--help"_qs} << u"--output"_qs;
    }
    void help()
    {
        QFETCH(QStringList, arguments);
        QFETCH(QString, expected);
        const Run r = runTool(arguments);
        QCOMPARE(r.exitCode, 0);
        QVERIFY2(r.out.contains(expected), qPrintable(r.out));
    }

    void usage_data()
    {
        QTest::addColumn<QStringList>("arguments");
        QTest::addColumn<QString>("expected");
        QTest::newRow("nothing") << QStringList{} << u"Commands:"_qs;
        QTest::newRow("unknown command") << QStringList{u"sign"_qs} << u"unknown command"_qs;
        QTest::newRow("verify without trust") << QStringList{u"verify"_qs, u"x.bundle"_qs} << u"--trust"_qs;
        QTest::newRow("build bad channel")
            << QStringList{u"build"_qs, u"d"_qs, u"--version"_qs, u"1.0"_qs, u"--channel"_qs, u"beta"_qs,
                           u"--min-box-version"_qs, u"1.0"_qs, u"--key"_qs, u"k"_qs, u"-o"_qs, u"o"_qs}
            << u"clean or experimental"_qs;
        QTest::newRow("build missing key") << QStringList{u"build"_qs, u"d"_qs, u"--version"_qs, u"1.0"_qs} << u"required"_qs;
        QTest::newRow("keygen without name") << QStringList{u"keygen"_qs} << u"-o NAME"_qs;
    }
    void usage()
    {
        QFETCH(QStringList, arguments);
        QFETCH(QString, expected);
        const Run r = runTool(arguments);
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains(expected), qPrintable(r.err));
    }

    void verifyAndInspect()
    {
        const Run ok = runTool({u"verify"_qs, path(u"r.bundle"_qs), u"--trust"_qs, path(u"other.pub"_qs), u"--trust"_qs,
                                path(u"release.pub"_qs), u"-q"_qs});
        QVERIFY2(ok.exitCode == 0, qPrintable(ok.err));
        QVERIFY(ok.out.contains(u"valid, version 1.5.0 (clean), 2 files"_qs));

        const Run wrong = runTool({u"verify"_qs, path(u"r.bundle"_qs), u"--trust"_qs, path(u"other.pub"_qs), u"-q"_qs});
        QCOMPARE(wrong.exitCode, 3);
        QVERIFY2(wrong.err.contains(u"UnknownKey: MANIFEST.sig: signed by key"_qs), qPrintable(wrong.err));

        const Run missingKey = runTool({u"verify"_qs, path(u"r.bundle"_qs), u"--trust"_qs, path(u"nope.pub"_qs)});
        QCOMPARE(missingKey.exitCode, 1);
        QVERIFY(missingKey.err.contains(u"nope.pub"_qs));

        const Run json = runTool({u"inspect"_qs, path(u"r.bundle"_qs), u"--json"_qs, u"--trust"_qs, path(u"release.pub"_qs)});
        QCOMPARE(json.exitCode, 0);
        const QJsonObject o = QJsonDocument::fromJson(json.out.toUtf8()).object();
        QCOMPARE(o.value(u"version"_qs).toString(), u"1.5.0"_qs);
        QCOMPARE(o.value(u"notes"_qs).toString(), u"faster grid"_qs);
        QCOMPARE(o.value(u"created"_qs).toString(), u"2026-01-05T00:00:00Z"_qs);
        QCOMPARE(o.value(u"signature"_qs).toObject().value(u"state"_qs).toString(), u"valid"_qs);

        const Run text = runTool({u"inspect"_qs, path(u"r.bundle"_qs), u"--files"_qs});
        QCOMPARE(text.exitCode, 0);
        QVERIFY(text.out.contains(u"signature        not checked"_qs));
        QVERIFY(text.out.contains(u"qml/Main.qml"_qs));
    }

    void refusedBundle()
    {
        // A hand-made bundle with a traversal entry, signed by the release key.
        QString error;
        const iptv::payload::SigningKey key = iptv::payload::SigningKey::load(path(u"release.key"_qs), &error);
        QVERIFY2(!key.isNull(), qPrintable(error));
        const hostile::Declared a{u"a.txt"_qs, "a"};
        hostile::Entry evil = hostile::fileEntry(a);
        evil.name = "payload/../../etc/cron.d/x";
        QVERIFY(writeFile(path(u"evil.bundle"_qs), hostile::tarZstd(hostile::signedHead({a}, key) + QList<hostile::Entry>{evil})));
        const Run v = runTool({u"verify"_qs, path(u"evil.bundle"_qs), u"--trust"_qs, path(u"release.pub"_qs), u"-q"_qs});
        QCOMPARE(v.exitCode, 3);
        QVERIFY2(v.err.contains(u"PathTraversal: payload/../../etc/cron.d/x: '..' component"_qs), qPrintable(v.err));
        const Run u = runTool({u"unpack"_qs, path(u"evil.bundle"_qs), u"--trust"_qs, path(u"release.pub"_qs), u"-q"_qs,
                               u"-o"_qs, path(u"evil-slot"_qs)});
        QCOMPARE(u.exitCode, 3);
        QVERIFY(!QFileInfo::exists(path(u"evil-slot"_qs)));
    }

    void unpack()
    {
        const QString slot = path(u"slot"_qs);
        const Run r = runTool({u"unpack"_qs, path(u"r.bundle"_qs), u"--trust"_qs, path(u"release.pub"_qs), u"-q"_qs,
                               u"-o"_qs, slot});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        QVERIFY(r.out.contains(u"unpacked version 1.5.0"_qs));
        QFile f(slot + u"/payload/qml/Main.qml"_qs);
        QVERIFY(f.open(QIODevice::ReadOnly));
        QCOMPARE(f.readAll(), QByteArray("import QtQuick\nItem {}\n"));
        const Run again = runTool({u"unpack"_qs, path(u"r.bundle"_qs), u"--trust"_qs, path(u"release.pub"_qs), u"-q"_qs,
                                   u"-o"_qs, slot});
        QCOMPARE(again.exitCode, 1);
        QVERIFY(again.err.contains(u"already exists"_qs));
    }
};

QTEST_GUILESS_MAIN(TestIptvPayload)
#include "tst_iptvpayload.moc"
