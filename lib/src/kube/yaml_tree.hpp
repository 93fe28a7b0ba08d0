#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace gpuorch::kube::yaml_tree {

/// The first document of a YAML text, read with libyaml's event parser into the shape that
/// yaml-cpp's `YAML::Load` gives: the same node types, tags ("?" for an untagged plain scalar or
/// collection, "!" for an untagged quoted or block scalar, resolved tags otherwise), the same null
/// rule (an untagged plain "", "~", "null", "Null" or "NULL" is a null node with an empty scalar),
/// aliases resolved to their anchored node, duplicate keys kept in order and looked up first-wins.
///
/// Why: yaml-cpp's scanner costs ~2 M instructions for the 1.2 KB kubeconfig of every CLI run
/// (docs/benchmarks.md); libyaml reads it in a small fraction of that. `Node` offers the subset of
/// `YAML::Node`'s interface that the kubeconfig decoder uses, under the same names, so that one
/// decoder (a template) serves both readers.
class Tree;

class Node {
 public:
  /// An undefined node: what a lookup of a missing key gives.
  Node() = default;
  Node(const Tree* tree, std::uint32_t index) : m_tree(tree), m_index(index) {}

  bool IsDefined() const { return m_tree != nullptr; }
  YAML::NodeType::value Type() const;
  bool IsNull() const { return Type() == YAML::NodeType::Null; }
  bool IsScalar() const { return Type() == YAML::NodeType::Scalar; }
  bool IsSequence() const { return Type() == YAML::NodeType::Sequence; }
  bool IsMap() const { return Type() == YAML::NodeType::Map; }
  const std::string& Tag() const;
  const std::string& Scalar() const;
  /// Items of a sequence, pairs of a map, 0 otherwise.
  std::size_t size() const;
  /// The i-th item of a sequence; undefined when out of range or not a sequence.
  Node operator[](std::size_t i) const;
  /// The value of the first pair whose key is a scalar equal to `key`; undefined if none.
  Node operator[](std::string_view key) const;
  Node operator[](const char* key) const { return (*this)[std::string_view(key)]; }
  Node operator[](const std::string& key) const { return (*this)[std::string_view(key)]; }
  /// Where the node starts (0-based line and column), null for an undefined node.
  YAML::Mark Mark() const;

  /// Iterates a map's (key, value) pairs in document order; nothing for other nodes.
  class const_iterator {
   public:
    const_iterator(const Node* map, std::size_t pair) : m_map(map), m_pair(pair) {}
    std::pair<Node, Node> operator*() const;
    const_iterator& operator++() {
      ++m_pair;
      return *this;
    }
    bool operator!=(const const_iterator& other) const { return m_pair != other.m_pair; }

   private:
    const Node* m_map;
    std::size_t m_pair;
  };
  const_iterator begin() const { return {this, 0}; }
  const_iterator end() const { return {this, IsMap() ? size() : 0}; }

 private:
  const Tree* m_tree = nullptr;
  std::uint32_t m_index = 0;
};

class Tree {
 public:
  struct Entry {
    YAML::NodeType::value type = YAML::NodeType::Null;
    std::string tag;
    std::string scalar;
    /// A sequence's items, or a map's keys and values alternately.
    std::vector<std::uint32_t> children;
    int line = 0;
    int column = 0;
    int pos = 0;
  };

  Node root() const { return Node(this, m_root); }
  const Entry& entry(std::uint32_t index) const { return m_entries[index]; }

 private:
  friend std::optional<Tree> read(std::string_view text);
  std::vector<Entry> m_entries;
  std::uint32_t m_root = 0;
};

/// The first document of `text`; nullopt when libyaml rejects the text (or an alias names no
/// anchor), in which case the caller reads it with yaml-cpp, whose error messages gpuorch reports.
/// An empty stream gives a null root, as `YAML::Load("")` does.
std::optional<Tree> read(std::string_view text);

}  // namespace gpuorch::kube::yaml_tree
