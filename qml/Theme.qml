pragma Singleton
import QtQuick

// The two stylesheets: a dark default and high contrast, switched live (Theme.highContrast).
QtObject {
    property bool highContrast: false

    readonly property color background: highContrast ? "#000000" : "#101418"
    readonly property color panel: highContrast ? "#000000" : "#cc1b2330"
    readonly property color panelSolid: highContrast ? "#000000" : "#1b2330"
    readonly property color text: "#ffffff"
    readonly property color dimText: highContrast ? "#ffffff" : "#a9b4c2"
    readonly property color accent: highContrast ? "#ffff00" : "#3d8bfd"
    readonly property color focus: highContrast ? "#ffff00" : "#f5a623"
    readonly property color cell: highContrast ? "#000000" : "#243042"
    readonly property color cellNow: highContrast ? "#202020" : "#2e3d55"
    readonly property color error: highContrast ? "#ff6060" : "#e5534b"
    readonly property int focusWidth: highContrast ? 6 : 4

    readonly property int margin: 48          // 10-foot safe area on 1280x720
    readonly property int fontSmall: 20
    readonly property int fontNormal: 26
    readonly property int fontLarge: 34
    readonly property int fontHuge: 56
    readonly property string family: "DejaVu Sans"

    // The remote's colour keys, as on its buttons.
    readonly property var keyColours: ({ red: "#e5534b", green: "#3fb950", yellow: "#e3d23a", blue: "#4f7dfd" })
    // A hint naming colour keys ("● green keep") with each key's dot in its colour, so that it
    // reads across a room: for a Text with textFormat: Text.StyledText (the rest is escaped).
    function keys(text) {
        // (Styled text folds runs of spaces into one: the gaps between a hint's keys stay.)
        const escaped = String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
                                    .replace(/ {2,}/g, spaces => "&nbsp;".repeat(spaces.length))
        return escaped.replace(/●( ?)(red|green|yellow|blue)\b/g,
                               (all, space, key) => "<font color=\"" + keyColours[key] + "\">●</font>" + space + key)
    }
}
