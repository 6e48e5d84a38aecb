// libs/core server basics: the Prometheus registry, HTTP helpers and the signal watcher.

#include <core/httputil.h>
#include <core/metrics.h>
#include <core/service.h>

#include <QSignalSpy>
#include <QTest>

#include <csignal>

class TestMetrics : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void counterAndGauge()
    {
        iptv::MetricsRegistry r;
        auto *ok = r.counter(u"app_requests_total"_qs, u"Requests."_qs, {{u"route"_qs, u"/a"_qs}, {u"status"_qs, u"200"_qs}});
        ok->increment();
        ok->increment(2);
        // The same labels give the same series.
        QCOMPARE(r.counter(u"app_requests_total"_qs, u"ignored"_qs, {{u"route"_qs, u"/a"_qs}, {u"status"_qs, u"200"_qs}}), ok);
        r.counter(u"app_requests_total"_qs, {}, {{u"route"_qs, u"/b"_qs}, {u"status"_qs, u"404"_qs}})->increment();
        r.gauge(u"app_temperature"_qs, u"Degrees."_qs)->set(21.5);
        r.gaugeCallback(u"app_queue"_qs, u"Queue."_qs, [] { return 7.0; });
        const QByteArray text = r.render();
        QVERIFY(text.contains("# HELP app_requests_total Requests.\n# TYPE app_requests_total counter\n"));
        QVERIFY(text.contains("app_requests_total{route=\"/a\",status=\"200\"} 3\n"));
        QVERIFY(text.contains("app_requests_total{route=\"/b\",status=\"404\"} 1\n"));
        QVERIFY(text.contains("# TYPE app_temperature gauge\napp_temperature 21.5\n"));
        QVERIFY(text.contains("app_queue 7\n"));
        // Families are sorted by name.
        QVERIFY(text.indexOf("app_queue") < text.indexOf("app_requests_total"));
    }

    void histogram()
    {
        iptv::MetricsRegistry r;
        auto *h = r.histogram(u"app_latency_seconds"_qs, u"Latency."_qs, {0.1, 1}, {{u"route"_qs, u"/x"_qs}});
        h->observe(0.05);
        h->observe(0.1); // upper bounds are inclusive
        h->observe(0.5);
        h->observe(3);
        const QByteArray text = r.render();
        QVERIFY(text.contains("# TYPE app_latency_seconds histogram\n"));
        QVERIFY(text.contains("app_latency_seconds_bucket{route=\"/x\",le=\"0.1\"} 2\n"));
        QVERIFY(text.contains("app_latency_seconds_bucket{route=\"/x\",le=\"1\"} 3\n"));
        QVERIFY(text.contains("app_latency_seconds_bucket{route=\"/x\",le=\"+Inf\"} 4\n"));
        QVERIFY(text.contains("app_latency_seconds_sum{route=\"/x\"} 3.65\n"));
        QVERIFY(text.contains("app_latency_seconds_count{route=\"/x\"} 4\n"));
    }

    void labelEscaping()
    {
        QCOMPARE(iptv::escapeMetricLabelValue(u"a\"b\\c\nd"_qs), u"a\\\"b\\\\c\\nd"_qs);
    }

    void etagMatches_data()
    {
        QTest::addColumn<QByteArray>("header");
        QTest::addColumn<bool>("matches");
        QTest::newRow("exact") << QByteArray("\"abc\"") << true;
        QTest::newRow("weak") << QByteArray("W/\"abc\"") << true;
        QTest::newRow("list") << QByteArray("\"x\", \"abc\"") << true;
        QTest::newRow("star") << QByteArray("*") << true;
        QTest::newRow("unquoted") << QByteArray("abc") << true;
        QTest::newRow("other") << QByteArray("\"abd\"") << false;
        QTest::newRow("empty") << QByteArray() << false;
    }

    void etagMatches()
    {
        QFETCH(QByteArray, header);
        QFETCH(bool, matches);
        QCOMPARE(iptv::http::etagMatches(header, "abc"), matches);
    }

    void parseTime_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<qint64>("expected"); // -1: invalid
        QTest::newRow("epoch") << u"1767225600"_qs << qint64(1767225600);
        QTest::newRow("iso Z") << u"2026-01-01T00:00:00Z"_qs << qint64(1767225600);
        QTest::newRow("iso offset") << u"2026-01-01T02:00:00+02:00"_qs << qint64(1767225600);
        QTest::newRow("iso without zone is UTC") << u"2026-01-01T00:00:00"_qs << qint64(1767225600);
        QTest::newRow("garbage") << u"soon"_qs << qint64(-1);
        QTest::newRow("empty") << QString() << qint64(-1);
    }

    void parseTime()
    {
        QFETCH(QString, text);
        QFETCH(qint64, expected);
        const auto t = iptv::http::parseTime(text);
        QCOMPARE(t.has_value(), expected >= 0);
        if (t)
            QCOMPARE(*t, expected);
    }

    void formats()
    {
        QCOMPARE(iptv::http::isoUtc(1767225600), u"2026-01-01T00:00:00Z"_qs);
        QCOMPARE(iptv::http::httpDate(784111777), QByteArray("Sun, 06 Nov 1994 08:49:37 GMT"));
        QCOMPARE(iptv::http::jsonError(u"not-found"_qs, u"no such thing"_qs),
                 QByteArray("{\"detail\":\"no such thing\",\"error\":\"not-found\"}"));
    }

    void parseHttpDate_data()
    {
        QTest::addColumn<QByteArray>("text");
        QTest::addColumn<qint64>("expected"); // -1: not a date
        // RFC 9110 5.6.7's three forms of one instant.
        QTest::newRow("IMF-fixdate") << QByteArray("Sun, 06 Nov 1994 08:49:37 GMT") << qint64(784111777);
        QTest::newRow("RFC 850") << QByteArray("Sunday, 06-Nov-94 08:49:37 GMT") << qint64(784111777);
        QTest::newRow("asctime") << QByteArray("Sun Nov  6 08:49:37 1994") << qint64(784111777);
        QTest::newRow("round trip") << iptv::http::httpDate(1767225600) << qint64(1767225600);
        QTest::newRow("not a date") << QByteArray("yesterday") << qint64(-1);
        QTest::newRow("empty") << QByteArray() << qint64(-1);
        QTest::newRow("no zone") << QByteArray("Sun, 06 Nov 1994 08:49:37") << qint64(-1);
    }

    void parseHttpDate()
    {
        QFETCH(QByteArray, text);
        QFETCH(qint64, expected);
        const auto t = iptv::http::parseHttpDate(text);
        QCOMPARE(t.has_value(), expected >= 0);
        if (t)
            QCOMPARE(*t, expected);
    }

    void signalWatcher()
    {
        iptv::SignalWatcher watcher({SIGUSR1, SIGTERM});
        QVERIFY(watcher.isValid());
        QSignalSpy any(&watcher, &iptv::SignalWatcher::signalReceived);
        QSignalSpy term(&watcher, &iptv::SignalWatcher::terminationRequested);
        ::raise(SIGUSR1);
        QVERIFY(any.wait(5000));
        QCOMPARE(any.at(0).at(0).toInt(), SIGUSR1);
        QCOMPARE(term.size(), 0);
        ::raise(SIGTERM);
        QVERIFY(term.wait(5000));
        QCOMPARE(term.at(0).at(0).toInt(), SIGTERM);
    }
};

QTEST_GUILESS_MAIN(TestMetrics)
#include "tst_metrics.moc"
