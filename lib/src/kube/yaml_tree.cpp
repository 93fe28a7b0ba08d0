#include "yaml_tree.hpp"

#include <yaml.h>

namespace gpuorch::kube::yaml_tree {
namespace {

const std::string k_empty;

bool is_null_string(std::string_view s) {
  return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}

/// Owns one libyaml event and frees it on every path.
class Event {
 public:
  Event() = default;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  ~Event() { reset(); }
  yaml_event_t* get() { return &m_event; }
  const yaml_event_t& operator*() const { return m_event; }
  void set_parsed() { m_parsed = true; }
  void reset() {
    if (m_parsed) {
      yaml_event_delete(&m_event);
      m_parsed = false;
    }
  }

 private:
  yaml_event_t m_event{};
  bool m_parsed = false;
};

/// Owns the libyaml parser.
class Parser {
 public:
  explicit Parser(std::string_view text) {
    m_ok = yaml_parser_initialize(&m_parser) != 0;
    if (m_ok) {
      yaml_parser_set_input_string(&m_parser, reinterpret_cast<const unsigned char*>(text.data()), text.size());
    }
  }
  Parser(const Parser&) = delete;
  Parser& operator=(const Parser&) = delete;
  ~Parser() {
    if (m_ok) {
      yaml_parser_delete(&m_parser);
    }
  }
  bool ok() const { return m_ok; }
  bool next(Event& event) {
    event.reset();
    if (yaml_parser_parse(&m_parser, event.get()) == 0) {
      return false;
    }
    event.set_parsed();
    return true;
  }

 private:
  yaml_parser_t m_parser{};
  bool m_ok = false;
};

}  // namespace

YAML::NodeType::value Node::Type() const {
  return m_tree == nullptr ? YAML::NodeType::Undefined : m_tree->entry(m_index).type;
}

const std::string& Node::Tag() const {
  return m_tree == nullptr ? k_empty : m_tree->entry(m_index).tag;
}

const std::string& Node::Scalar() const {
  return m_tree == nullptr ? k_empty : m_tree->entry(m_index).scalar;
}

std::size_t Node::size() const {
  if (m_tree == nullptr) {
    return 0;
  }
  const auto& e = m_tree->entry(m_index);
  if (e.type == YAML::NodeType::Sequence) {
    return e.children.size();
  }
  if (e.type == YAML::NodeType::Map) {
    return e.children.size() / 2;
  }
  return 0;
}

Node Node::operator[](std::size_t i) const {
  if (!IsSequence() || i >= size()) {
    return {};
  }
  return Node(m_tree, m_tree->entry(m_index).children[i]);
}

Node Node::operator[](std::string_view key) const {
  if (!IsMap()) {
    return {};
  }
  const auto& children = m_tree->entry(m_index).children;
  for (std::size_t i = 0; i + 1 < children.size(); i += 2) {
    const auto& k = m_tree->entry(children[i]);
    if (k.type == YAML::NodeType::Scalar && k.scalar == key) {
      return Node(m_tree, children[i + 1]);
    }
  }
  return {};
}

YAML::Mark Node::Mark() const {
  if (m_tree == nullptr) {
    return YAML::Mark::null_mark();
  }
  const auto& e = m_tree->entry(m_index);
  YAML::Mark mark;
  mark.pos = e.pos;
  mark.line = e.line;
  mark.column = e.column;
  return mark;
}

std::pair<Node, Node> Node::const_iterator::operator*() const {
  const auto& children = m_map->m_tree->entry(m_map->m_index).children;
  return {Node(m_map->m_tree, children[2 * m_pair]), Node(m_map->m_tree, children[2 * m_pair + 1])};
}

namespace {

/// Where libyaml and yaml-cpp read a text differently, yaml-cpp decides, as it did before the
/// fast path. Differential fuzzing (random edits of kubeconfigs, both readers, compared node by
/// node) found them around '?' (explicit keys, "? #comment", '?' in flow collections), line breaks
/// that YAML 1.1 has and 1.2 does not (a CR alone, NEL, LS, PS), block scalars ('|', '>': the
/// chomping of trailing blank lines), byte order marks past the start, keys that span lines and
/// keys without a value in flow mappings; none is common in kubeconfigs.
bool left_to_yaml_cpp(std::string_view text) {
  if (text.find('?') != std::string_view::npos) {
    return true;
  }
  for (std::size_t at = text.find('\r'); at != std::string_view::npos; at = text.find('\r', at + 1)) {
    if (at + 1 == text.size() || text[at + 1] != '\n') {
      return true;
    }
  }
  // A byte order mark past the start is content for yaml-cpp, skipped by libyaml.
  if (text.size() > 1 && text.find("\xef\xbb\xbf", 1) != std::string_view::npos) {
    return true;
  }
  return text.find("\xc2\x85") != std::string_view::npos || text.find("\xe2\x80\xa8") != std::string_view::npos ||
         text.find("\xe2\x80\xa9") != std::string_view::npos;
}

}  // namespace

std::optional<Tree> read(std::string_view text) {
  if (left_to_yaml_cpp(text)) {
    return std::nullopt;
  }
  Parser parser(text);
  if (!parser.ok()) {
    return std::nullopt;
  }
  Tree tree;
  auto& entries = tree.m_entries;
  std::vector<std::uint32_t> open;  // collections not yet ended, innermost last
  std::vector<bool> open_flow;      // whether each of them is a flow collection
  bool have_root = false;

  // Appends a finished node to its parent (or makes it the root).
  auto attach = [&](std::uint32_t index) {
    if (open.empty()) {
      tree.m_root = index;
      have_root = true;
    } else {
      entries[open.back()].children.push_back(index);
    }
  };
  auto add = [&](YAML::NodeType::value type, const yaml_mark_t& mark) {
    Tree::Entry e;
    e.type = type;
    e.line = static_cast<int>(mark.line);
    e.column = static_cast<int>(mark.column);
    e.pos = static_cast<int>(mark.index);
    entries.push_back(std::move(e));
    return static_cast<std::uint32_t>(entries.size() - 1);
  };

  Event event;
  while (true) {
    if (!parser.next(event)) {
      return std::nullopt;
    }
    const yaml_event_t& ev = *event;
    switch (ev.type) {
      case YAML_STREAM_START_EVENT:
      case YAML_NO_EVENT:
        break;
      case YAML_DOCUMENT_START_EVENT:
        // Directives (%YAML, %TAG) are left to yaml-cpp.
        if (ev.data.document_start.version_directive != nullptr ||
            ev.data.document_start.tag_directives.start != ev.data.document_start.tag_directives.end) {
          return std::nullopt;
        }
        break;
      case YAML_DOCUMENT_END_EVENT:
        // yaml-cpp reads only the first document, but its scanner may stop on what follows
        // where libyaml's would not: a stream of several documents is left to yaml-cpp.
        if (!parser.next(event) || (*event).type != YAML_STREAM_END_EVENT) {
          return std::nullopt;
        }
        return tree;
      case YAML_STREAM_END_EVENT:
        if (!have_root) {
          // An empty stream: yaml-cpp's Load gives a null node.
          entries.emplace_back();
          tree.m_root = static_cast<std::uint32_t>(entries.size() - 1);
        }
        return tree;
      case YAML_ALIAS_EVENT:
        // Anchors, aliases and tags are rare in kubeconfigs, and where libyaml and yaml-cpp
        // disagree on them (anchor names with ':', a tag's handle), yaml-cpp decides, as before.
        return std::nullopt;
      case YAML_SCALAR_EVENT: {
        const auto& s = ev.data.scalar;
        if (s.anchor != nullptr || s.tag != nullptr) {
          return std::nullopt;
        }
        const std::string_view value(reinterpret_cast<const char*>(s.value), s.length);
        if (s.style == YAML_LITERAL_SCALAR_STYLE || s.style == YAML_FOLDED_SCALAR_STYLE) {
          return std::nullopt;
        }
        const bool is_key = !open.empty() && entries[open.back()].type == YAML::NodeType::Map &&
                            entries[open.back()].children.size() % 2 == 0;
        if (is_key && ev.start_mark.line != ev.end_mark.line) {
          return std::nullopt;
        }
        const bool is_value = !open.empty() && entries[open.back()].type == YAML::NodeType::Map && !is_key;
        if (is_value && open_flow.back() && s.length == 0 && ev.start_mark.index == ev.end_mark.index) {
          return std::nullopt;
        }
        const bool plain = s.style == YAML_PLAIN_SCALAR_STYLE || s.style == YAML_ANY_SCALAR_STYLE;
        std::uint32_t index = 0;
        if (plain && is_null_string(value)) {
          index = add(YAML::NodeType::Null, ev.start_mark);
        } else {
          index = add(YAML::NodeType::Scalar, ev.start_mark);
          entries[index].scalar.assign(value);
          entries[index].tag = plain ? "?" : "!";
        }
        attach(index);
        break;
      }
      case YAML_SEQUENCE_START_EVENT:
      case YAML_MAPPING_START_EVENT: {
        const bool sequence = ev.type == YAML_SEQUENCE_START_EVENT;
        const yaml_char_t* tag = sequence ? ev.data.sequence_start.tag : ev.data.mapping_start.tag;
        const yaml_char_t* anchor = sequence ? ev.data.sequence_start.anchor : ev.data.mapping_start.anchor;
        if (tag != nullptr || anchor != nullptr) {
          return std::nullopt;
        }
        const auto index = add(sequence ? YAML::NodeType::Sequence : YAML::NodeType::Map, ev.start_mark);
        entries[index].tag = "?";
        open.push_back(index);
        open_flow.push_back(sequence ? ev.data.sequence_start.style == YAML_FLOW_SEQUENCE_STYLE
                                     : ev.data.mapping_start.style == YAML_FLOW_MAPPING_STYLE);
        break;
      }
      case YAML_SEQUENCE_END_EVENT:
      case YAML_MAPPING_END_EVENT: {
        const auto index = open.back();
        open.pop_back();
        open_flow.pop_back();
        attach(index);
        break;
      }
    }
  }
}

}  // namespace gpuorch::kube::yaml_tree
