#include "guidegridview.h"

#include "channelfiltermodel.h"
#include "channellistmodel.h"
#include "dvrclient.h"
#include "guidegrid.h"

#include <QDateTime>
#include <QFontMetrics>
#include <QHash>
#include <QImage>
#include <QPainter>
#include <QQuickWindow>
#include <QSGClipNode>
#include <QSGImageNode>
#include <QSGRectangleNode>
#include <QSGTexture>
#include <QSGTransformNode>

#include <cmath>

namespace iptv::hubris {

namespace {

constexpr int kCellGap = 4;       ///< below each row and cell: the page background between them
constexpr int kCellRightGap = 3;  ///< between two cells of a row
/// Label textures kept, in bytes of pixels (a screen draws ~70 labels, ~1.2 MB): beyond it the
/// ones drawn longest ago go, down to 3/4 of it. Qt Quick packs them into one 2048 x 1024 atlas
/// (8 MiB) shared with the rest of the UI; within this they never need a second one.
constexpr qsizetype kCacheBytes = 4 << 20;

/// A solid rectangle in its parent's coordinates.
struct Box
{
    QRect rect;
    QRgb color = 0;
    bool operator==(const Box &o) const { return rect == o.rect && color == o.color; }
};

/// A text (or the padlock) drawn once into a texture on an opaque background, and placed.
struct Label
{
    enum Kind : quint8 { Text, Lock };
    QString text;
    QRgb fg = 0, bg = 0;
    bool bold = false;
    Kind kind = Text;
    QPoint at;
    bool operator==(const Label &o) const
    {
        return at == o.at && fg == o.fg && bg == o.bg && bold == o.bold && kind == o.kind && text == o.text;
    }
};

struct TextureKey
{
    QString text;
    QRgb fg = 0, bg = 0;
    bool bold = false;
    Label::Kind kind = Label::Text;
    bool operator==(const TextureKey &o) const
    {
        return fg == o.fg && bg == o.bg && bold == o.bold && kind == o.kind && text == o.text;
    }
};

size_t qHash(const TextureKey &k, size_t seed = 0)
{
    return qHashMulti(seed, k.text, k.fg, k.bg, k.bold, int(k.kind));
}

/// Qt Quick's 4 px radius without antialiasing, as whole pixels: a 2 x 2 notch at each corner,
/// in three rectangles that do not overlap. (Its exact staircase takes five, with strips a pixel
/// tall that llvmpipe rasterises at the cost of four: ~2.5 ms a frame more for the grid.)
void roundedBox(QList<Box> *out, const QRect &r, QRgb color)
{
    if (r.width() < 6 || r.height() < 6) {
        out->append({r, color});
        return;
    }
    out->append({r.adjusted(2, 0, -2, 0), color});
    out->append({QRect(r.x(), r.y() + 2, 2, r.height() - 4), color});
    out->append({QRect(r.right() - 1, r.y() + 2, 2, r.height() - 4), color});
}

} // namespace

/// What one row draws (the channel and its cells), in the row's coordinates.
struct GuideGridView::RowPlan
{
    int row = -1;
    QList<Box> boxes;
    QList<Label> labels;
    QList<Box> overBoxes; ///< the focused cell's, drawn after the labels
    QList<Label> overLabels;
    bool operator==(const RowPlan &o) const
    {
        return row == o.row && boxes == o.boxes && labels == o.labels && overBoxes == o.overBoxes && overLabels == o.overLabels;
    }
};

/// What the next frame draws, made on the GUI thread (updatePolish) for the render thread.
struct GuideGridView::Plan
{
    QList<Label> ruler;
    QList<RowPlan> rows;
    int top = 0;
    int rowHeight = 64, rulerHeight = 32, width = 0, height = 0;
    QRect nowLine; ///< empty: off screen
    QRgb nowColor = 0;
    QFont font;
};

// ---- the scene graph side ----

namespace {

/// The root: owns the textures of every text drawn (keyed by text, colours and weight; each made
/// once and kept while drawn), and the nodes of the rows on screen.
class GridRootNode : public QSGNode
{
public:
    ~GridRootNode() override { clear(); }

    void clear()
    {
        for (const Entry &e : std::as_const(textures))
            delete e.texture;
        textures.clear();
        textureBytes = 0;
    }

    struct Entry
    {
        QSGTexture *texture = nullptr;
        QSize size; ///< logical pixels
        qsizetype bytes = 0;
        quint64 used = 0;
    };

    QSGNode *ruler = nullptr;
    QSGClipNode *clip = nullptr;
    QSGTransformNode *scroll = nullptr;
    QSGRectangleNode *now = nullptr;
    QList<Label> rulerPlan; ///< what the ruler's nodes draw
    QHash<int, std::pair<QSGNode *, GuideGridView::RowPlan>> rows; ///< row -> its node and what it draws
    QHash<TextureKey, Entry> textures;
    qsizetype textureBytes = 0;
    quint64 frame = 0;
};

QImage paintLabel(const Label &l, const QFont &font, qreal dpr)
{
    QFont f = font;
    f.setBold(l.bold);
    const QFontMetrics fm(f);
    const QSize size = l.kind == Label::Lock ? QSize(18, 22) : QSize(fm.horizontalAdvance(l.text) + 1, fm.height());
    QImage image((QSizeF(size) * dpr).toSize(), QImage::Format_RGB32);
    image.setDevicePixelRatio(dpr);
    image.fill(QColor::fromRgb(l.bg));
    QPainter p(&image);
    const QColor fg = QColor::fromRgb(l.fg);
    if (l.kind == Label::Lock) { // LockIcon.qml: a shackle and a body
        p.setRenderHint(QPainter::Antialiasing);
        p.setPen(QPen(fg, 3));
        p.setBrush(Qt::NoBrush);
        p.drawRoundedRect(QRectF(4.5, 1.5, 9, 11), 4.5, 4.5);
        p.setPen(Qt::NoPen);
        p.setBrush(fg);
        p.drawRoundedRect(QRectF(0, 9, 18, 13), 2, 2);
    } else {
        p.setFont(f);
        p.setPen(fg);
        p.drawText(0, fm.ascent(), l.text);
    }
    return image;
}

} // namespace

GuideGridView::GuideGridView(QQuickItem *parent) : QQuickItem(parent)
{
    setFlag(ItemHasContents);
    m_font.setFamily(QStringLiteral("DejaVu Sans"));
    m_font.setPixelSize(20);
}

GuideGridView::~GuideGridView() = default;

void GuideGridView::setGuide(GuideGrid *guide)
{
    if (guide == m_guide)
        return;
    if (m_guide)
        disconnect(m_guide, nullptr, this, nullptr);
    m_guide = guide;
    if (guide) {
        connect(guide, &GuideGrid::revisionChanged, this, &GuideGridView::refocus); // a new guide, a lock
    }
    refocus();
    Q_EMIT sourcesChanged();
}

void GuideGridView::setChannels(ChannelFilterModel *channels)
{
    if (channels == m_channels)
        return;
    if (m_channels)
        disconnect(m_channels, nullptr, this, nullptr);
    m_channels = channels;
    if (channels) {
        connect(channels, &QAbstractItemModel::rowsInserted, this, &GuideGridView::rowsChanged);
        connect(channels, &QAbstractItemModel::rowsRemoved, this, &GuideGridView::rowsChanged);
        connect(channels, &QAbstractItemModel::modelReset, this, &GuideGridView::rowsChanged);
        connect(channels, &QAbstractItemModel::layoutChanged, this, &GuideGridView::rowsChanged);
    }
    rowsChanged();
    Q_EMIT sourcesChanged();
}

void GuideGridView::setDvr(DvrClient *dvr)
{
    if (dvr == m_dvr)
        return;
    if (m_dvr)
        disconnect(m_dvr, nullptr, this, nullptr);
    m_dvr = dvr;
    if (dvr) {
        connect(dvr, &DvrClient::marksChanged, this, [this] { changed(false); });
    }
    changed(false);
    Q_EMIT sourcesChanged();
}

int GuideGridView::rowCount() const
{
    return m_channels ? m_channels->rowCount() : 0;
}

int GuideGridView::currentChannel() const
{
    return m_channels ? m_channels->channelAt(m_row) : -1;
}

int GuideGridView::rowsOnScreen() const
{
    return std::max(1, int(height() - m_rulerHeight) / std::max(1, m_rowHeight));
}

int GuideGridView::programmeWidth() const
{
    return std::max(0, int(width()) - m_channelColumn);
}

void GuideGridView::setSpan(int seconds)
{
    if (seconds <= 0 || seconds == m_span)
        return;
    m_span = seconds;
    Q_EMIT styleChanged();
    changed(true);
}

void GuideGridView::setSlot(int seconds)
{
    if (seconds <= 0 || seconds == m_slot)
        return;
    m_slot = seconds;
    Q_EMIT styleChanged();
    changed(true);
}

void GuideGridView::setRowHeight(int px)
{
    if (px <= kCellGap || px == m_rowHeight)
        return;
    m_rowHeight = px;
    Q_EMIT styleChanged();
    changed(true);
}

void GuideGridView::setRulerHeight(int px)
{
    if (px < 0 || px == m_rulerHeight)
        return;
    m_rulerHeight = px;
    Q_EMIT styleChanged();
    changed(true);
}

void GuideGridView::setChannelColumn(int px)
{
    if (px < 0 || px == m_channelColumn)
        return;
    m_channelColumn = px;
    Q_EMIT styleChanged();
    changed(true);
}

void GuideGridView::setFont(const QFont &font)
{
    if (font == m_font)
        return;
    m_font = font;
    Q_EMIT styleChanged();
    changed(false);
}

void GuideGridView::setFocusWidth(int px)
{
    if (px == m_focusWidth)
        return;
    m_focusWidth = px;
    Q_EMIT styleChanged();
    changed(false);
}

void GuideGridView::setStyle(QColor &member, const QColor &value)
{
    if (member == value)
        return;
    member = value;
    Q_EMIT styleChanged();
    changed(false);
}

void GuideGridView::changed(bool view)
{
    if (view)
        Q_EMIT viewChanged();
    polish();
    update();
}

void GuideGridView::geometryChange(const QRectF &newGeometry, const QRectF &oldGeometry)
{
    QQuickItem::geometryChange(newGeometry, oldGeometry);
    if (newGeometry.size() != oldGeometry.size()) {
        keepRowOnScreen(false);
        changed(true);
    }
}

qint64 GuideGridView::align(qint64 t) const
{
    return t - ((t % m_slot) + m_slot) % m_slot;
}

qint64 GuideGridView::clampTime(qint64 t) const
{
    if (!m_guide)
        return t;
    return std::max(m_guide->windowStart(), std::min(m_guide->windowEnd() - 1, t));
}

QVariantMap GuideGridView::airingAt(int channel, qint64 t) const
{
    return m_guide && channel >= 0 ? m_guide->airingAt(channel, t) : QVariantMap();
}

void GuideGridView::rowsChanged()
{
    const int count = rowCount();
    m_row = std::clamp(m_row, 0, std::max(0, count - 1));
    keepRowOnScreen(false);
    Q_EMIT rowCountChanged();
    refocus();
}

void GuideGridView::keepRowOnScreen(bool centre)
{
    const int count = rowCount();
    const int full = rowsOnScreen();
    if (centre)
        m_top = m_row - (full - 1) / 2;
    else if (m_row < m_top)
        m_top = m_row;
    else if (m_row >= m_top + full)
        m_top = m_row - full + 1;
    m_top = std::clamp(m_top, 0, std::max(0, count - full));
}

void GuideGridView::refocus()
{
    m_airing = airingAt(currentChannel(), m_focusTime);
    if (m_focusTime < m_viewStart)
        m_viewStart = align(m_focusTime);
    else if (m_focusTime >= m_viewStart + m_span)
        m_viewStart = align(m_focusTime) - m_span + m_slot;
    Q_EMIT focusChanged();
    changed(true);
}

void GuideGridView::open(int channel)
{
    m_now = m_guide ? m_guide->now() : 0;
    m_viewStart = align(m_now);
    m_focusTime = m_now;
    m_row = m_channels ? std::max(0, m_channels->rowOfChannel(std::max(0, channel))) : 0;
    keepRowOnScreen(true);
    refocus();
}

void GuideGridView::step(bool forward)
{
    const QVariantMap a = m_airing;
    const auto start = [](const QVariantMap &m) { return m.value(QStringLiteral("start")).toLongLong(); };
    const auto stop = [](const QVariantMap &m) { return m.value(QStringLiteral("stop")).toLongLong(); };
    if (a.isEmpty()) { // a gap: by a slot
        m_focusTime = clampTime(m_focusTime + (forward ? m_slot : -m_slot));
    } else if (forward) {
        m_focusTime = clampTime(stop(a));
    } else {
        // Back to the airing before, or to the part of this one left of the view.
        m_focusTime = clampTime(std::max(start(a), m_viewStart) - 1);
        const QVariantMap prev = airingAt(currentChannel(), m_focusTime);
        if (!prev.isEmpty())
            m_focusTime = std::max(start(prev), m_focusTime - m_span);
    }
    // Keep the focus where it is on screen: the middle of a long programme that starts early.
    const QVariantMap f = airingAt(currentChannel(), m_focusTime);
    if (!forward && !f.isEmpty() && start(f) < m_viewStart && start(f) >= m_viewStart - m_span)
        m_viewStart = align(start(f));
    refocus();
}

void GuideGridView::moveRows(int rows)
{
    setCurrentRow(m_row + rows);
}

void GuideGridView::setCurrentRow(int row)
{
    m_row = std::clamp(row, 0, std::max(0, rowCount() - 1));
    keepRowOnScreen(false);
    refocus();
}

void GuideGridView::jumpDays(int days)
{
    m_focusTime = clampTime(m_focusTime + qint64(days) * 86400);
    m_viewStart = align(m_focusTime);
    refocus();
}

void GuideGridView::showChannel(int channel)
{
    setCurrentRow(m_channels ? std::max(0, m_channels->rowOfChannel(channel)) : 0);
}

int GuideGridView::nowLineX() const
{
    const int w = programmeWidth();
    if (w <= 0 || m_now < m_viewStart)
        return -1;
    const int x = int(std::floor(double(m_now - m_viewStart) * w / m_span));
    return x < w ? x : -1;
}

QList<GuideGridView::Cell> GuideGridView::rowCells(int row, int channel) const
{
    QList<Cell> out;
    const auto g = m_guide ? m_guide->data() : nullptr;
    const int w = programmeWidth();
    if (!g || channel < 0 || channel >= g->channelCount() || w <= 0)
        return out;
    QList<epg::Airing> list;
    g->window(channel, 1, m_viewStart, m_viewStart + m_span, &list);
    const double pxPerSecond = double(w) / m_span;
    const bool current = row == m_row;
    for (const epg::Airing &a : std::as_const(list)) {
        Cell c;
        c.row = row;
        c.channel = channel;
        c.airing = int(a.index);
        c.start = a.start;
        c.stop = a.stop;
        c.x = std::max(0, int(std::lround(double(a.start - m_viewStart) * pxPerSecond)));
        const int right = std::min(w, int(std::lround(double(a.stop - m_viewStart) * pxPerSecond)));
        c.width = std::max(0, right - c.x - kCellRightGap);
        c.locked = m_guide->hides(a);
        c.title = c.locked ? GuideGrid::tr("Locked") : g->title(a.programme);
        c.isNew = a.flags & epg::FlagNew;
        c.focused = current && a.start <= m_focusTime && m_focusTime < a.stop;
        // A programme of a minute is a few pixels wide (or none): focused, it is drawn wide
        // enough for its ring to show, over its neighbours, and kept inside the area.
        if (const int least = minFocusedWidth(); c.focused && c.width < least) {
            c.width = std::min(least, w);
            c.x = std::max(0, std::min(c.x, w - c.width));
        }
        c.onNow = a.start <= m_now && m_now < a.stop;
        c.mark = m_dvr ? m_dvr->markOf(int(a.index)) : QString();
        out.append(c);
    }
    return out;
}

QList<GuideGridView::Cell> GuideGridView::visibleCells() const
{
    QList<Cell> out;
    const int count = rowCount();
    const int shown = (std::max(0, int(height()) - m_rulerHeight) + m_rowHeight - 1) / m_rowHeight;
    for (int row = m_top; row < std::min(count, m_top + shown); ++row)
        out.append(rowCells(row, m_channels->channelAt(row)));
    return out;
}

GuideGridView::RowPlan GuideGridView::planRow(int row) const
{
    RowPlan plan;
    plan.row = row;
    const auto g = m_guide ? m_guide->data() : nullptr;
    const int channel = m_channels ? m_channels->channelAt(row) : -1;
    if (!g || channel < 0)
        return plan;
    const int y = row * m_rowHeight;
    const int h = m_rowHeight - kCellGap;
    const bool current = row == m_row;
    QFont bold = m_font;
    bold.setBold(true);
    const QFontMetrics fm(m_font), fmBold(bold);
    const int textY = y + (h - fm.height()) / 2;

    // The channel: number and name.
    const QRgb columnColor = (current ? m_cellNow : m_cell).rgb();
    roundedBox(&plan.boxes, QRect(0, y, m_channelColumn - 6, h), columnColor);
    const QModelIndex index = m_channels->index(row, 0); // the lineup's number (or its position) and name
    const QString name = m_channels->data(index, ChannelListModel::NumberRole).toString() + QStringLiteral("  ")
                         + m_channels->data(index, ChannelListModel::NameRole).toString();
    const int nameWidth = m_channelColumn - 6 - 20;
    if (nameWidth > 0)
        plan.labels.append({(current ? fmBold : fm).elidedText(name, Qt::ElideRight, nameWidth), m_text.rgb(), columnColor,
                            current, Label::Text, QPoint(10, y + (h - (current ? fmBold : fm).height()) / 2)});

    // The cells; the focused one after the others (over their text where it is drawn wider).
    for (const Cell &c : rowCells(row, channel)) {
        if (c.width <= 0)
            continue;
        QList<Box> *boxes = c.focused ? &plan.overBoxes : &plan.boxes;
        QList<Label> *labels = c.focused ? &plan.overLabels : &plan.labels;
        const int x = m_channelColumn + c.x;
        const QRect r(x, y, c.width, h);
        const QRgb fill = (c.locked ? m_background : c.onNow ? m_cellNow : m_cell).rgb();
        const int border = c.focused ? m_focusWidth : c.locked ? 2 : 0;
        if (border > 0 && c.width > 2 * border) {
            roundedBox(boxes, r, (c.focused ? m_focus : m_cell).rgb());
            boxes->append({r.adjusted(border, border, -border, -border), fill});
        } else {
            roundedBox(boxes, r, fill);
        }
        if (c.locked && c.width > 36)
            labels->append({QString(), m_dimText.rgb(), fill, false, Label::Lock, QPoint(x + 10, y + (h - 22) / 2)});
        if (c.isNew && !c.locked && c.width > 24) // a "new" tag above the title
            boxes->append({QRect(x + 8, y + 8, 12, 3), m_accent.rgb()});
        int textRight = r.right() + 1 - 8;
        if (!c.mark.isEmpty()) {
            const QString glyph = c.mark == u"conflict" ? QStringLiteral("○") : QStringLiteral("●");
            const QRgb color = (c.mark == u"planned" ? m_accent : m_error).rgb();
            const int gx = r.right() + 1 - 8 - fm.horizontalAdvance(glyph) - 1;
            if (gx > x + border)
                labels->append({glyph, color, fill, false, Label::Text, QPoint(gx, textY)});
            textRight = r.right() + 1 - 28;
        }
        const int textX = x + (c.locked ? 36 : 8);
        if (textRight - textX > 4) {
            const QString text = fm.elidedText(c.title, Qt::ElideRight, textRight - textX);
            if (!text.isEmpty())
                labels->append({text, (c.locked ? m_dimText : m_text).rgb(), fill, false, Label::Text, QPoint(textX, textY)});
        }
    }
    return plan;
}

void GuideGridView::updatePolish()
{
    auto plan = std::make_unique<Plan>();
    plan->top = m_top;
    plan->rowHeight = m_rowHeight;
    plan->rulerHeight = m_rulerHeight;
    plan->width = int(width());
    plan->height = int(height());
    plan->font = m_font;
    const int w = programmeWidth();
    for (int i = 0; i * m_slot < m_span && w > 0; ++i) {
        const qint64 t = m_viewStart + qint64(i) * m_slot;
        const QString text = QDateTime::fromSecsSinceEpoch(t).toString(QStringLiteral("hh:mm"));
        plan->ruler.append({text, m_dimText.rgb(), m_background.rgb(), false, Label::Text,
                            QPoint(m_channelColumn + int(std::lround(double(i) * m_slot * w / m_span)) + 6, 0)});
    }
    const int count = rowCount();
    const int shown = (std::max(0, plan->height - m_rulerHeight) + m_rowHeight - 1) / m_rowHeight;
    for (int row = m_top; row < std::min(count, m_top + shown); ++row)
        plan->rows.append(planRow(row));
    // The now line runs down the rows shown (not below the last one).
    const int rowsHeight = std::min(plan->height - m_rulerHeight, int(plan->rows.size()) * m_rowHeight);
    if (const int x = nowLineX(); x >= 0 && rowsHeight > 0)
        plan->nowLine = QRect(m_channelColumn + x, m_rulerHeight, 2, rowsHeight);
    plan->nowColor = m_error.rgb();
    m_plan = std::move(plan);
}


QSGNode *GuideGridView::updatePaintNode(QSGNode *old, UpdatePaintNodeData *)
{
    auto *root = static_cast<GridRootNode *>(old);
    if (!m_plan)
        return root;
    const std::unique_ptr<Plan> plan = std::move(m_plan);
    QQuickWindow *win = window();
    const qreal dpr = win->effectiveDevicePixelRatio();
    if (!root) {
        root = new GridRootNode;
        // Under a transform node of its own (identity): Qt Quick's software renderer (6.4) drew
        // labels made again under a plain node at the window's origin instead of the item's.
        root->ruler = new QSGTransformNode;
        root->appendChildNode(root->ruler);
        root->clip = new QSGClipNode;
        root->clip->setIsRectangular(true);
        root->appendChildNode(root->clip);
        root->scroll = new QSGTransformNode;
        root->clip->appendChildNode(root->scroll);
        root->now = win->createRectangleNode();
        root->clip->appendChildNode(root->now);
    }
    const quint64 frame = ++root->frame;

    // Labels share their textures: one per distinct text, colours and weight, while drawn.
    const auto labelNode = [&](const Label &l) -> QSGNode * {
        const TextureKey key{l.text, l.fg, l.bg, l.bold, l.kind};
        auto it = root->textures.find(key);
        if (it == root->textures.end()) {
            const QImage image = paintLabel(l, plan->font, dpr);
            GridRootNode::Entry e;
            e.texture = win->createTextureFromImage(image, QQuickWindow::TextureCanUseAtlas);
            e.size = (QSizeF(image.size()) / dpr).toSize();
            e.bytes = image.sizeInBytes();
            root->textureBytes += e.bytes;
            it = root->textures.insert(key, e);
        }
        it->used = frame;
        QSGImageNode *node = win->createImageNode();
        node->setTexture(it->texture);
        node->setOwnsTexture(false);
        node->setFiltering(QSGTexture::Nearest);
        node->setRect(QRectF(l.at, it->size));
        return node;
    };
    const auto boxNode = [&](const Box &b) -> QSGNode * {
        QSGRectangleNode *node = win->createRectangleNode();
        node->setRect(b.rect);
        node->setColor(QColor::fromRgb(b.color));
        return node;
    };

    // The ruler: its five times, again only when the view moved in time.
    if (plan->ruler != root->rulerPlan) {
        while (QSGNode *n = root->ruler->firstChild()) {
            root->ruler->removeChildNode(n);
            delete n;
        }
        for (const Label &l : plan->ruler)
            root->ruler->appendChildNode(labelNode(l));
        root->rulerPlan = plan->ruler;
    }
    const auto stillDrawn = [&](const QList<Label> &labels) {
        for (const Label &l : labels) {
            auto t = root->textures.find(TextureKey{l.text, l.fg, l.bg, l.bold, l.kind});
            if (t != root->textures.end())
                t->used = frame;
        }
    };
    stillDrawn(plan->ruler);

    root->clip->setClipRect(QRectF(0, plan->rulerHeight, plan->width, std::max(0, plan->height - plan->rulerHeight)));
    QMatrix4x4 m;
    m.translate(0, plan->rulerHeight - plan->top * plan->rowHeight);
    if (root->scroll->matrix() != m)
        root->scroll->setMatrix(m);

    // Rows: kept when they draw the same, made again when not, dropped when off screen.
    QHash<int, std::pair<QSGNode *, RowPlan>> rows;
    for (const RowPlan &rp : plan->rows) {
        auto kept = root->rows.find(rp.row);
        if (kept != root->rows.end() && kept->second == rp) {
            rows.insert(rp.row, *kept);
            root->rows.erase(kept);
            stillDrawn(rp.labels);
            stillDrawn(rp.overLabels);
            continue;
        }
        auto *node = new QSGNode;
        for (const Box &b : rp.boxes)
            node->appendChildNode(boxNode(b));
        for (const Label &l : rp.labels)
            node->appendChildNode(labelNode(l));
        for (const Box &b : rp.overBoxes)
            node->appendChildNode(boxNode(b));
        for (const Label &l : rp.overLabels)
            node->appendChildNode(labelNode(l));
        root->scroll->appendChildNode(node);
        rows.insert(rp.row, {node, rp});
    }
    for (const auto &gone : std::as_const(root->rows)) {
        root->scroll->removeChildNode(gone.first);
        delete gone.first; // its children with it
    }
    root->rows = std::move(rows);

    root->now->setRect(plan->nowLine.isEmpty() ? QRectF() : QRectF(plan->nowLine));
    root->now->setColor(QColor::fromRgb(plan->nowColor));

    // Over the budget, the textures drawn longest ago go (never one drawn this frame).
    if (root->textureBytes > kCacheBytes) {
        QList<std::pair<quint64, TextureKey>> stale;
        for (auto it = root->textures.cbegin(); it != root->textures.cend(); ++it) {
            if (it->used != frame)
                stale.append({it->used, it.key()});
        }
        std::sort(stale.begin(), stale.end(), [](const auto &a, const auto &b) { return a.first < b.first; });
        for (const auto &[used, key] : std::as_const(stale)) {
            if (root->textureBytes <= kCacheBytes * 3 / 4)
                break;
            const GridRootNode::Entry e = root->textures.take(key);
            root->textureBytes -= e.bytes;
            delete e.texture;
        }
    }
    return root;
}

void GuideGridView::releaseResources()
{
    // The scene graph deletes the nodes (and the textures with the root) itself.
    m_plan.reset();
}

} // namespace iptv::hubris
