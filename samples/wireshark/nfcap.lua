-- nfcap.lua: Wireshark post-dissector for nfcap's per-packet metadata comments.
--
-- nfcap records netfilter NFLOG/NFQUEUE traffic as pcapng and stores each packet's metadata in
-- the packet comment (opt_comment) as one line, e.g.
--
--   nflog:123 hook=input family=ipv4 prefix="DROP ssh" in=eth0/2 uid=1000 mark=0x10 seq=41
--
-- This script parses that line and adds an "nfcap netfilter metadata" subtree with filterable
-- fields (nfcap.prefix, nfcap.hook, nfcap.in.name, nfcap.in.index, nfcap.mark, ...). Packets
-- whose comments are not nfcap's (first token not "nflog:N" / "nfqueue:N") get nothing.
--
-- Usage with tshark:
--   tshark -r capture.pcapng -X lua_script:nfcap.lua -Y 'nfcap.prefix == "DROP ssh"'
--   tshark -r capture.pcapng -X lua_script:nfcap.lua -T fields -e frame.number -e nfcap.prefix
--
-- Usage with Wireshark: copy this file into your personal Lua plugin folder,
--   ~/.local/lib/wireshark/plugins/        (Wireshark >= 2.6 on Linux/macOS;
--                                            Help > About Wireshark > Folders shows the path)
-- then restart Wireshark or use Analyze > Reload Lua Plugins.
--
-- Fields:
--   nfcap.source (string, "nflog:123"), nfcap.source.kind ("nflog"/"nfqueue"),
--   nfcap.source.group (uint16: NFLOG group or NFQUEUE number)
--   nfcap.hook, nfcap.family*, nfcap.ct, nfcap.ts* (strings, as written)
--   nfcap.prefix* (string), nfcap.prefix.bytes (bytes; only when the prefix holds a NUL byte or
--       invalid UTF-8, which a Wireshark string field cannot carry exactly)
--   nfcap.in / .out / .physin / .physout (string "eth0/2"), with .name (string) and
--       .index (uint32) children, e.g. nfcap.in.name, nfcap.in.index
--   nfcap.uid, nfcap.gid, nfcap.seq, nfcap.seq_global, nfcap.ctid, nfcap.trunc (uint32)
--   nfcap.copy (string "meta": the record holds no packet bytes, the queue or group copies
--       metadata only; --copy-mode meta or none)
--   nfcap.truncated (string "80/188": the record itself was cut by the recording nfcap
--       replayed) with nfcap.truncated.captured, .original (uint32: record bytes there / before
--       the cut)
--   nfcap.hwtype*, nfcap.ctzone (uint16)
--   nfcap.mark, nfcap.ctmark, nfcap.ctstatus (uint32, hex)
--   NFQUEUE: nfcap.priority, nfcap.id (uint32)
--       nfcap.verdict (string "accept", "drop", "repeat", "queue:6") with nfcap.verdict.queue
--           (uint16, only for queue:N); any other lowercase word is kept as it is (a verdict
--           nfcap may name later), anything else is malformed
--       nfcap.setmark (string "0x10/0xffffffff") with nfcap.setmark.value, .mask (uint32, hex)
--       nfcap.decided (string: "later", "deadline", "close", "error"; absent when the packet
--           was decided at once): how a held packet's verdict came about
--       nfcap.payload (string: "replaced" on the record of a rewritten packet's original
--           bytes, "new" on the record after it that holds the new bytes, same nfcap.id)
--       nfcap.skbinfo (string "csum-not-ready,gso") with nfcap.skbinfo.csum_not_ready,
--           .gso, .csum_not_verified (booleans, present only when the flag is listed) and
--           nfcap.skbinfo.unknown (uint32, hex: the trailing number for bits nfcap has no
--           name for); a lowercase name this script does not know is kept in nfcap.skbinfo
--       nfcap.secctx (string: the security context, unescaped like the prefix)
--   nfcap.hwaddr* (string "52:54:00:12:34:56"), nfcap.hwheader (string, hex digits)
--   nfcap.vlan (string "0x8100/0x0005") with nfcap.vlan.tpid, .tci (hex), .id, .pcp, .dei
--   nfcap.other (string "key=value") with nfcap.other.key / nfcap.other.value: any key this
--       script does not know (keys added to nfcap later still show up here)
--   nfcap.malformed (string: what is wrong and where); also raised as an expert info.
--   nfcap.host (string, generated): the host the packet's interface block names (its
--       description, "NFLOG group 7 on fw1 (LINUX_SLL2)"), so that in files from several
--       hosts merged with mergecap every packet says where it came from
--
-- Implied fields (* above): nfcap leaves out of the comment what the record itself states.
-- When the key is absent, the field is still added, as a generated item (in brackets in
-- Wireshark), so the same filters work on full and compact comments:
--   nfcap.family   "ipv4" / "ipv6": the IP version of the packet's first (outer) IP header
--                  (ip.version, ipv6); nothing when the packet has no IP header
--   nfcap.ts       "kernel" (the kernel's timestamp)
--   nfcap.prefix   "" (empty) on an nflog:N source; NFQUEUE has no prefix
--   nfcap.hwtype   on a LINUX_SLL2 frame: the header's hardware type (sll.hatype), unless
--                  65535 (ARPHRD_VOID: nfcap writes it when the record has no hardware type)
--   nfcap.hwaddr   on a LINUX_SLL2 frame: the first sll.halen bytes of the header's address
--                  (sll.src.eth, sll.src.other or sll.src.ipv4), "xx:xx:..."; nothing when
--                  sll.halen is 0
--   (nfcap.seq_global is written only when several NFLOG groups are recorded: nothing implied)
-- A key in the comment always wins, even with a malformed value. After a syntax error nothing
-- is implied: whether the key follows the error is unknown.
--
-- String values are unescaped (quotes removed, \" \\ \xNN decoded). A Wireshark string field is a
-- C string, so a NUL byte shows as U+FFFD there, and Wireshark 4.2+ also replaces invalid UTF-8;
-- the item label (C-escaped) and nfcap.prefix.bytes keep the exact bytes. hook, family and ct
-- are plain strings: nfcap writes a number when it has no name for the value. Filter examples:
--   nfcap.prefix == "DROP ssh"          nfcap.in.name == "eth0" && nfcap.in.index == 2
--   nfcap.mark == 0x10                  nfcap.other.key == "newkey"
--   nfcap.malformed                     nfcap.prefix.bytes == 61:00:62
--   nfcap.verdict.queue == 6            nfcap.setmark.value == 0x10 && nfcap.skbinfo.gso
--
-- The comment grammar (see nfcap's README, "The metadata comment"): the source token, then
-- " key=value" pairs separated by single spaces. A value is either bare (no space, '"', '\',
-- control byte or invalid UTF-8; not empty) or double-quoted with the escapes \" \\ \xNN.
-- This script never raises a Lua error on a bad comment; it reports nfcap.malformed instead.

local nfcap = Proto("nfcap", "nfcap netfilter metadata")

-- ---------------------------------------------------------------------------------------------
-- Fields

local F = {}
local function field(key, ctor, abbrev, name, ...)
    F[key] = ctor(abbrev, name, ...)
    return F[key]
end

field("source", ProtoField.string, "nfcap.source", "Source")
field("source.kind", ProtoField.string, "nfcap.source.kind", "Source kind")
field("source.group", ProtoField.uint16, "nfcap.source.group", "Group/queue number", base.DEC)
field("hook", ProtoField.string, "nfcap.hook", "Hook")
field("family", ProtoField.string, "nfcap.family", "Family")
field("prefix", ProtoField.string, "nfcap.prefix", "Prefix")
field("prefix.bytes", ProtoField.bytes, "nfcap.prefix.bytes", "Prefix bytes")
local iface_titles = { ["in"] = "Input interface", out = "Output interface",
                       physin = "Physical input interface", physout = "Physical output interface" }
for _, key in ipairs({ "in", "out", "physin", "physout" }) do
    field(key, ProtoField.string, "nfcap." .. key, iface_titles[key])
    field(key .. ".name", ProtoField.string, "nfcap." .. key .. ".name", "Name")
    field(key .. ".index", ProtoField.uint32, "nfcap." .. key .. ".index", "Index", base.DEC)
end
field("uid", ProtoField.uint32, "nfcap.uid", "UID", base.DEC)
field("gid", ProtoField.uint32, "nfcap.gid", "GID", base.DEC)
field("mark", ProtoField.uint32, "nfcap.mark", "Mark", base.HEX)
field("priority", ProtoField.uint32, "nfcap.priority", "Priority", base.DEC)
field("hwtype", ProtoField.uint16, "nfcap.hwtype", "Hardware type (ARPHRD)", base.DEC)
field("hwaddr", ProtoField.string, "nfcap.hwaddr", "Hardware address")
field("hwheader", ProtoField.string, "nfcap.hwheader", "Hardware header")
field("vlan", ProtoField.string, "nfcap.vlan", "VLAN")
field("vlan.tpid", ProtoField.uint16, "nfcap.vlan.tpid", "TPID", base.HEX)
field("vlan.tci", ProtoField.uint16, "nfcap.vlan.tci", "TCI", base.HEX)
field("vlan.pcp", ProtoField.uint8, "nfcap.vlan.pcp", "Priority (PCP)", base.DEC)
field("vlan.dei", ProtoField.uint8, "nfcap.vlan.dei", "Drop eligible (DEI)", base.DEC)
field("vlan.id", ProtoField.uint16, "nfcap.vlan.id", "VLAN ID", base.DEC)
field("ct", ProtoField.string, "nfcap.ct", "Conntrack state")
field("ctstatus", ProtoField.uint32, "nfcap.ctstatus", "Conntrack status", base.HEX)
field("ctmark", ProtoField.uint32, "nfcap.ctmark", "Conntrack mark", base.HEX)
field("ctid", ProtoField.uint32, "nfcap.ctid", "Conntrack id", base.DEC)
field("ctzone", ProtoField.uint16, "nfcap.ctzone", "Conntrack zone", base.DEC)
field("seq", ProtoField.uint32, "nfcap.seq", "Sequence (per group)", base.DEC)
field("seq_global", ProtoField.uint32, "nfcap.seq_global", "Sequence (global)", base.DEC)
field("id", ProtoField.uint32, "nfcap.id", "Packet id", base.DEC)
field("verdict", ProtoField.string, "nfcap.verdict", "Verdict")
field("verdict.queue", ProtoField.uint16, "nfcap.verdict.queue", "Target queue", base.DEC)
field("setmark", ProtoField.string, "nfcap.setmark", "Set mark")
field("decided", ProtoField.string, "nfcap.decided", "Decided")
field("copy", ProtoField.string, "nfcap.copy", "Copied")
field("payload", ProtoField.string, "nfcap.payload", "Payload")
field("setmark.value", ProtoField.uint32, "nfcap.setmark.value", "Value", base.HEX)
field("setmark.mask", ProtoField.uint32, "nfcap.setmark.mask", "Mask", base.HEX)
field("skbinfo", ProtoField.string, "nfcap.skbinfo", "skb info")
local skbinfo_flags = {
    { name = "csum-not-ready", key = "skbinfo.csum_not_ready", title = "Checksum not ready" },
    { name = "gso", key = "skbinfo.gso", title = "GSO packet" },
    { name = "csum-not-verified", key = "skbinfo.csum_not_verified", title = "Checksum not verified" },
}
for _, flag in ipairs(skbinfo_flags) do
    field(flag.key, ProtoField.bool, "nfcap." .. flag.key, flag.title)
end
field("skbinfo.unknown", ProtoField.uint32, "nfcap.skbinfo.unknown", "Unknown bits", base.HEX)
field("secctx", ProtoField.string, "nfcap.secctx", "Security context")
field("ts", ProtoField.string, "nfcap.ts", "Timestamp source")
field("trunc", ProtoField.uint32, "nfcap.trunc", "Original length (truncated)", base.DEC)
field("truncated", ProtoField.string, "nfcap.truncated", "Record truncated by the recording")
field("truncated.captured", ProtoField.uint32, "nfcap.truncated.captured", "Record bytes kept",
      base.DEC)
field("truncated.original", ProtoField.uint32, "nfcap.truncated.original",
      "Record length before the cut", base.DEC)
field("other", ProtoField.string, "nfcap.other", "Other")
field("other.key", ProtoField.string, "nfcap.other.key", "Key")
field("other.value", ProtoField.string, "nfcap.other.value", "Value")
field("malformed", ProtoField.string, "nfcap.malformed", "Malformed")
field("host", ProtoField.string, "nfcap.host", "Host")

local field_list = {}
for _, f in pairs(F) do field_list[#field_list + 1] = f end
nfcap.fields = field_list

local ef_malformed = ProtoExpert.new("nfcap.malformed.expert", "Malformed nfcap comment",
                                     expert.group.MALFORMED, expert.severity.WARN)
nfcap.experts = { ef_malformed }

-- The packet comment field: "frame.comment" (an FT_STRING, one occurrence per comment) from
-- Wireshark 1.10 through at least 4.x. Should a later version rename it, the next names are
-- tried; Field.new raises on an unknown name, hence pcall. A candidate whose value is not a
-- string is ignored at dissection time.
local comment_field
for _, name in ipairs({ "frame.comment", "pkt_comment" }) do
    local ok, f = pcall(Field.new, name)
    if ok and f then
        comment_field = f
        break
    end
end

-- Fields of other dissectors that state what a compact comment leaves out (see "Implied
-- values" below). Any of them may be missing in some Wireshark version: then that value is not
-- implied.
local function optional_field(name)
    local ok, f = pcall(Field.new, name)
    if ok then return f end
    return nil
end
local iface_description_field = optional_field("frame.interface_description")
local ip_version_field = optional_field("ip.version")     -- IPv6 adds a hidden ip.version too
local ipv6_version_field = optional_field("ipv6.version")
local sll_ifindex_field = optional_field("sll.ifindex")   -- only LINUX_SLL2 has it
local sll_hatype_field = optional_field("sll.hatype")
local sll_halen_field = optional_field("sll.halen")
local sll_address_fields = {}                             -- the one present depends on halen/hatype
for _, name in ipairs({ "sll.src.eth", "sll.src.other", "sll.src.ipv4" }) do
    sll_address_fields[#sll_address_fields + 1] = optional_field(name)
end

-- ---------------------------------------------------------------------------------------------
-- Byte helpers

-- Length of the valid UTF-8 sequence starting at byte i of s, or nil when it is not valid
-- (overlong forms, surrogates and code points above U+10FFFF are invalid).
local function utf8_len(s, i)
    local c = s:byte(i)
    if c < 0x80 then return 1 end
    local n, min
    if c >= 0xC2 and c <= 0xDF then n, min = 2, 0x80
    elseif c >= 0xE0 and c <= 0xEF then n, min = 3, 0x800
    elseif c >= 0xF0 and c <= 0xF4 then n, min = 4, 0x10000
    else return nil end
    if i + n - 1 > #s then return nil end
    local cp = c % (2 ^ (7 - n))
    for k = i + 1, i + n - 1 do
        local b = s:byte(k)
        if b < 0x80 or b > 0xBF then return nil end
        cp = cp * 64 + (b - 0x80)
    end
    if cp < min or cp > 0x10FFFF or (cp >= 0xD800 and cp <= 0xDFFF) then return nil end
    return n
end

local function is_valid_utf8(s)
    local i = 1
    while i <= #s do
        local n = utf8_len(s, i)
        if not n then return false end
        i = i + n
    end
    return true
end

-- The value as the grammar would quote it, for labels: C escapes for '"', '\', control bytes
-- and invalid UTF-8; valid UTF-8 stays literal.
local function escape(s)
    local out = {}
    local i = 1
    while i <= #s do
        local c = s:byte(i)
        local n = utf8_len(s, i)
        if c == 0x22 then out[#out + 1] = '\\"'; i = i + 1
        elseif c == 0x5C then out[#out + 1] = "\\\\"; i = i + 1
        elseif c < 0x20 or c == 0x7F or not n then
            out[#out + 1] = string.format("\\x%02x", c); i = i + 1
        else out[#out + 1] = s:sub(i, i + n - 1); i = i + n end
    end
    return table.concat(out)
end

-- Whether a label must show the escaped form (the plain string would hide or lose bytes).
local function needs_escaped_label(s)
    return s:find("[\0-\31\127]") ~= nil or not is_valid_utf8(s)
end

-- A Wireshark 4.0 string field is a C string: a NUL would cut it. Show NUL as U+FFFD.
local function string_field_value(s)
    return (s:gsub("\0", "\239\191\189"))
end

local function hex_of(s)
    return (s:gsub(".", function(ch) return string.format("%02x", ch:byte()) end))
end

-- Decimal without sign or spaces, at most `max`.
local function parse_dec(s, max)
    if not s:match("^%d+$") or #s:gsub("^0+", "") > 10 then return nil end
    local v = tonumber(s)
    if not v or v > max then return nil end
    return v
end

-- "0x" + hex digits, at most `max`.
local function parse_hex(s, max)
    local digits = s:match("^0x(%x+)$")
    if not digits then return nil end
    digits = digits:gsub("^0+", "")
    if #digits > 8 then return nil end
    local v = digits == "" and 0 or tonumber(digits, 16)
    if not v or v > max then return nil end
    return v
end

-- ---------------------------------------------------------------------------------------------
-- Tokenizer. Returns source, pairs ({key, value, raw}), and an error string or nil. On error,
-- the pairs read before the error are still returned. Returns nil when the comment is not
-- nfcap's at all.

local function parse_comment(s)
    local first_end = s:find(" ", 1, true) or (#s + 1)
    local source = s:sub(1, first_end - 1)
    local kind, group = source:match("^(nf[a-z]+):(.*)$")
    if kind ~= "nflog" and kind ~= "nfqueue" then return nil end

    local pairs_ = {}
    if not group:match("^%d+$") or tonumber(group) > 65535 then
        return source, pairs_, "bad source token (expected nflog:N or nfqueue:N)"
    end

    local pos = first_end  -- index of the separator before the next pair, or #s + 1 at the end
    local seen = {}
    while pos <= #s do
        -- Exactly one space, then a pair.
        pos = pos + 1
        if pos > #s then
            return source, pairs_, string.format("trailing space at byte %d", pos - 1)
        end
        local c = s:sub(pos, pos)
        if c == " " then
            return source, pairs_, string.format("two spaces at byte %d", pos - 1)
        end

        local key_start = pos
        local eq = s:find("[= ]", pos)
        if not eq or s:sub(eq, eq) ~= "=" then
            return source, pairs_, string.format("token without '=' at byte %d", key_start)
        end
        local key = s:sub(key_start, eq - 1)
        if key == "" then
            return source, pairs_, string.format("empty key at byte %d", key_start)
        end
        if not key:match("^[%w_.%-]+$") then
            return source, pairs_, string.format("bad character in key at byte %d", key_start)
        end
        if seen[key] then
            return source, pairs_, string.format("duplicate key %s at byte %d", key, key_start)
        end
        seen[key] = true

        pos = eq + 1
        local value
        if s:sub(pos, pos) == '"' then
            -- Quoted value.
            local out = {}
            local i = pos + 1
            local closed = false
            while i <= #s do
                local ch = s:byte(i)
                if ch == 0x22 then
                    closed = true
                    i = i + 1
                    break
                elseif ch == 0x5C then
                    local e = s:sub(i + 1, i + 1)
                    if e == '"' or e == "\\" then
                        out[#out + 1] = e
                        i = i + 2
                    elseif e == "x" then
                        local hh = s:sub(i + 2, i + 3)
                        if not hh:match("^%x%x$") then
                            return source, pairs_, string.format("bad \\x escape at byte %d", i)
                        end
                        out[#out + 1] = string.char(tonumber(hh, 16))
                        i = i + 4
                    elseif e == "" then
                        break  -- backslash at the very end: unterminated
                    else
                        return source, pairs_, string.format("bad escape \\%s at byte %d", escape(e), i)
                    end
                elseif ch < 0x20 or ch == 0x7F then
                    return source, pairs_, string.format("raw control byte at byte %d", i)
                else
                    out[#out + 1] = string.char(ch)
                    i = i + 1
                end
            end
            if not closed then
                return source, pairs_, string.format("unterminated quote at byte %d", pos)
            end
            if i <= #s and s:sub(i, i) ~= " " then
                return source, pairs_, string.format("text after closing quote at byte %d", i)
            end
            value = table.concat(out)
            pairs_[#pairs_ + 1] = { key = key, value = value, raw = s:sub(key_start, i - 1) }
            pos = i
        else
            -- Bare value: up to the next space.
            local sp = s:find(" ", pos, true) or (#s + 1)
            value = s:sub(pos, sp - 1)
            if value == "" then
                return source, pairs_, string.format("empty bare value for %s (must be \"\")", key)
            end
            local bad = value:find('[%c"\\]')
            if bad then
                return source, pairs_, string.format("unquoted value for %s holds a quote, backslash or control byte at byte %d", key, pos + bad - 1)
            end
            pairs_[#pairs_ + 1] = { key = key, value = value, raw = s:sub(key_start, sp - 1) }
            pos = sp
        end
    end
    return source, pairs_, nil
end

-- ---------------------------------------------------------------------------------------------
-- Tree building

local U32 = 4294967295
local U16 = 65535

local function add_string(tree, f, title, value)
    local item = tree:add(f, string_field_value(value))
    if needs_escaped_label(value) then
        item:set_text(title .. ': "' .. escape(value) .. '"')
    end
    return item
end

-- Each handler adds the pair's items and returns nil, or returns an error string.
local handlers = {}

local function string_handler(key, title)
    handlers[key] = function(tree, value)
        add_string(tree, F[key], title, value)
    end
end
string_handler("hook", "Hook")
string_handler("family", "Family")
string_handler("ct", "Conntrack state")
string_handler("ts", "Timestamp source")
string_handler("secctx", "Security context")
string_handler("decided", "Decided")
string_handler("copy", "Copied")
string_handler("payload", "Payload")

local function number_handler(key, parse, max)
    handlers[key] = function(tree, value)
        local v = parse(value, max)
        if not v then return "bad number" end
        tree:add(F[key], v)
    end
end
for _, k in ipairs({ "uid", "gid", "priority", "ctid", "seq", "seq_global", "id", "trunc" }) do
    number_handler(k, parse_dec, U32)
end
for _, k in ipairs({ "hwtype", "ctzone" }) do number_handler(k, parse_dec, U16) end
for _, k in ipairs({ "mark", "ctmark", "ctstatus" }) do number_handler(k, parse_hex, U32) end

handlers.prefix = function(tree, value)
    local item = add_string(tree, F.prefix, "Prefix", value)
    if value:find("\0") or not is_valid_utf8(value) then
        -- Exact bytes need a tvb: a Wireshark 4.0 bytes field cannot be added from a value.
        local ok = pcall(function()
            local prefix_tvb = ByteArray.new(hex_of(value)):tvb("nfcap prefix")
            item:add(F["prefix.bytes"], prefix_tvb:range(0, prefix_tvb:len()))
        end)
        if not ok then item:append_text(" (bytes " .. hex_of(value) .. ")") end
    end
end

for _, key in ipairs({ "in", "out", "physin", "physout" }) do
    handlers[key] = function(tree, value)
        local name, index = value:match("^(.*)/(%d+)$")
        if not name then index = value:match("^%d+$") and value end
        local idx = index and parse_dec(index, U32)
        if not idx or name == "" then return "expected name/index or index" end
        local item = add_string(tree, F[key], iface_titles[key], value)
        if name then add_string(item, F[key .. ".name"], "Name", name) end
        item:add(F[key .. ".index"], idx)
    end
end

handlers.hwaddr = function(tree, value)
    local rest = value:match("^%x%x(.*)$")
    while rest and rest ~= "" do rest = rest:match("^:%x%x(.*)$") end
    if rest ~= "" then return "expected xx:xx:..." end
    add_string(tree, F.hwaddr, "Hardware address", value)
end

handlers.hwheader = function(tree, value)
    if not value:match("^%x*$") or #value % 2 ~= 0 then return "expected hex bytes" end
    add_string(tree, F.hwheader, "Hardware header", value)
end

handlers.vlan = function(tree, value)
    local tpid_s, tci_s = value:match("^(0x%x+)/(0x%x+)$")
    local tpid = tpid_s and parse_hex(tpid_s, U16)
    local tci = tci_s and parse_hex(tci_s, U16)
    if not tpid or not tci then return "expected 0xTPID/0xTCI" end
    local item = add_string(tree, F.vlan, "VLAN", value)
    item:add(F["vlan.tpid"], tpid)
    item:add(F["vlan.tci"], tci)
    item:add(F["vlan.pcp"], math.floor(tci / 8192))
    item:add(F["vlan.dei"], math.floor(tci / 4096) % 2)
    item:add(F["vlan.id"], tci % 4096)
end

-- "accept", "drop", "repeat", "queue:N"; another lowercase word is kept (nfcap may add one).
handlers.verdict = function(tree, value)
    local queue_s = value:match("^queue:(.*)$")
    local queue = queue_s and parse_dec(queue_s, U16)
    if (queue_s or value == "queue") and not queue then
        return "expected queue:N with N up to 65535"
    end
    if not queue and not value:match("^[a-z][a-z_-]*$") then
        return "expected accept, drop, repeat or queue:N"
    end
    local item = add_string(tree, F.verdict, "Verdict", value)
    if queue then item:add(F["verdict.queue"], queue) end
end

handlers.setmark = function(tree, value)
    local value_s, mask_s = value:match("^(0x%x+)/(0x%x+)$")
    local mark = value_s and parse_hex(value_s, U32)
    local mask = mask_s and parse_hex(mask_s, U32)
    if not mark or not mask then return "expected 0xVALUE/0xMASK" end
    local item = add_string(tree, F.setmark, "Set mark", value)
    item:add(F["setmark.value"], mark)
    item:add(F["setmark.mask"], mask)
end

-- The record bytes a recording kept / the record's length before the cut (kept < length).
handlers.truncated = function(tree, value)
    local kept_s, length_s = value:match("^(%d+)/(%d+)$")
    local kept = kept_s and parse_dec(kept_s, U32)
    local length = length_s and parse_dec(length_s, U32)
    if not kept or not length or kept >= length then return "expected KEPT/LENGTH, KEPT < LENGTH" end
    local item = add_string(tree, F.truncated, "Record truncated by the recording", value)
    item:add(F["truncated.captured"], kept)
    item:add(F["truncated.original"], length)
end

-- Comma list of flag names, each at most once, then optionally a hex number for the bits that
-- have no name. A lowercase name this script does not know is accepted (nfcap may add one).
handlers.skbinfo = function(tree, value)
    local seen, unknown_bits = {}, nil
    for element in (value .. ","):gmatch("([^,]*),") do
        if element == "" then return "empty flag in list" end
        if unknown_bits then return "hex number not last in list" end
        if element:match("^0x") then
            unknown_bits = parse_hex(element, U32)
            if not unknown_bits then return "bad hex number in list" end
        elseif not element:match("^[a-z][a-z0-9-]*$") then
            return "bad flag name in list"
        elseif seen[element] then
            return "flag " .. element .. " listed twice"
        else
            seen[element] = true
        end
    end
    local item = add_string(tree, F.skbinfo, "skb info", value)
    for _, flag in ipairs(skbinfo_flags) do
        if seen[flag.name] then item:add(F[flag.key], true) end
    end
    if unknown_bits then item:add(F["skbinfo.unknown"], unknown_bits) end
end

-- ---------------------------------------------------------------------------------------------
-- Implied values. nfcap leaves keys out of the comment when the record itself states them; they
-- are added back as generated items (shown in brackets) so filters work as on a full comment.
-- Only for a comment that parsed to its end: after a syntax error, whether a key follows is
-- unknown. A key that is there, even with a malformed value, is never replaced.

-- The first (outermost) occurrence of a field in this packet, or nil.
local function first_of(f)
    if not f then return nil end
    local ok, fi = pcall(function() return ({ f() })[1] end)
    if ok then return fi end
    return nil
end

local function value_of(fi)
    if not fi then return nil end
    local ok, v = pcall(function() return fi.value end)
    if ok then return v end
    return nil
end

-- "ipv4"/"ipv6" from the packet's first (outer) IP header, or nil. Wireshark adds a tunnel's
-- inner ip.version before the outer one, so the order of occurrences says nothing: the header
-- at the smallest offset in the frame's own bytes is the first (a reassembled buffer has other
-- offsets, so it counts only when the frame has no IP header of its own).
local function packet_family(frame_len)
    local best, best_offset, best_own
    local function consider(f, only6)
        if not f then return end
        local ok, infos = pcall(function() return { f() } end)
        if not ok then return end
        for _, fi in ipairs(infos) do
            local ok_fi, version, offset, source_len = pcall(function()
                return tonumber(fi.value), fi.offset, fi.source and fi.source:len()
            end)
            if ok_fi and (version == 6 or (version == 4 and not only6)) and offset then
                local own = source_len == frame_len
                if best == nil or (own and not best_own)
                   or (own == best_own and offset < best_offset) then
                    best, best_offset, best_own = version, offset, own
                end
            end
        end
    end
    consider(ip_version_field, false)
    consider(ipv6_version_field, true)
    if best == 4 then return "ipv4" end
    if best == 6 then return "ipv6" end
    return nil
end

-- The hardware type, hardware address ("xx:xx:...", or nil when the address length is 0) and
-- whether there is an SLL2 header at all.
local ARPHRD_VOID = 0xffff  -- what nfcap writes in the header when the record has no hwtype

local function sll2_hardware()
    if not first_of(sll_ifindex_field) then return nil, nil end
    local hatype = tonumber(value_of(first_of(sll_hatype_field)))
    if hatype == ARPHRD_VOID then hatype = nil end
    local halen = tonumber(value_of(first_of(sll_halen_field))) or 0
    local hwaddr
    if halen > 0 then
        for _, f in ipairs(sll_address_fields) do
            local fi = first_of(f)
            local ok, bytes = pcall(function() return fi.range:bytes() end)
            if fi and ok and bytes and bytes:len() > 0 then
                local parts = {}
                for i = 0, math.min(halen, bytes:len()) - 1 do
                    parts[#parts + 1] = string.format("%02x", bytes:get_index(i))
                end
                hwaddr = table.concat(parts, ":")
                break
            end
        end
    end
    return hatype, hwaddr
end

local function add_implied(root, kind, present, frame_len)
    local function generated(item, note)
        item:set_generated()
        item:append_text(" (" .. note .. ")")
        return item
    end
    if not present.family then
        local family = packet_family(frame_len)
        if family then generated(root:add(F.family, family), "from the IP header") end
    end
    if not present.prefix and kind == "nflog" then
        generated(root:add(F.prefix, ""), "none logged"):set_text('Prefix: "" (none logged)')
    end
    if not present.hwtype or not present.hwaddr then
        local hatype, hwaddr = sll2_hardware()
        if not present.hwtype and hatype then
            generated(root:add(F.hwtype, hatype), "from the LINUX_SLL2 header")
        end
        if not present.hwaddr and hwaddr then
            generated(root:add(F.hwaddr, hwaddr), "from the LINUX_SLL2 header")
        end
    end
    if not present.ts then
        generated(root:add(F.ts, "kernel"), "the kernel's timestamp, not in the comment")
    end
end

local function add_malformed(tree, reason)
    local item = tree:add(F.malformed, string_field_value(reason))
    item:add_proto_expert_info(ef_malformed, "Malformed nfcap comment: " .. reason)
    return item
end

-- The host the packet's interface block names: nfcap writes its description as "NFLOG group 7
-- on HOST (LINUX_SLL2)" (a live capture names its own host, a replay the one --host-name
-- gives). Files from several hosts merged with mergecap keep an interface block per host.
local function interface_host()
    if not iface_description_field then return nil end
    local ok, description = pcall(function()
        local fi = iface_description_field()
        return fi and fi.value
    end)
    if not ok or type(description) ~= "string" then return nil end
    return description:match(" on ([%w%.%-_]+) %(")
end

local function dissect_comment(comment, tree, frame_len)
    local source, pairs_, err = parse_comment(comment)
    if not source then return false end

    local root = tree:add(nfcap)
    root:append_text(", " .. escape(source))
    local src_item = add_string(root, F.source, "Source", source)
    local kind, group = source:match("^(nf[a-z]+):(%d+)$")
    if kind then
        src_item:add(F["source.kind"], kind)
        local g = parse_dec(group, U16)
        if g then src_item:add(F["source.group"], g) end
    end
    local host = interface_host()
    if host then
        root:add(F.host, host):set_generated()
        root:append_text(" on " .. host)
    end

    local any_bad = false
    for _, pair in ipairs(pairs_) do
        local handler = handlers[pair.key]
        local bad
        if handler then
            local ok, res = pcall(handler, root, pair.value)
            if not ok then bad = "internal error: " .. tostring(res) else bad = res end
        else
            local item = add_string(root, F.other, "Other", pair.key .. "=" .. pair.value)
            item:add(F["other.key"], string_field_value(pair.key))
            add_string(item, F["other.value"], "Value", pair.value)
        end
        if bad then
            any_bad = true
            add_malformed(root, string.format("%s for %s: %s", bad, pair.key, pair.raw))
        end
        if pair.key == "prefix" then root:append_text(', prefix "' .. escape(pair.value) .. '"') end
    end

    if err then
        add_malformed(root, err)
    elseif kind then
        local present = {}
        for _, pair in ipairs(pairs_) do present[pair.key] = true end
        add_implied(root, kind, present, frame_len)
    end
    if err or any_bad then root:append_text(" [malformed]") end
    return true
end

function nfcap.dissector(tvb, pinfo, tree)
    if not comment_field then return end
    local ok_fetch, infos = pcall(function() return { comment_field() } end)
    if not ok_fetch then return end
    local ok_len, frame_len = pcall(function() return tvb:len() end)
    if not ok_len then frame_len = nil end
    for _, fi in ipairs(infos) do
        local ok_value, comment = pcall(function() return fi.value end)
        if ok_value and type(comment) == "string" then
            local ok, err = pcall(dissect_comment, comment, tree, frame_len)
            if not ok then
                -- A bug in this script: report it as malformed instead of raising.
                pcall(function()
                    local root = tree:add(nfcap)
                    add_malformed(root, "nfcap.lua internal error: " .. tostring(err))
                end)
            end
        end
    end
end

register_postdissector(nfcap)
