// The small council that the demo and the integration tests set up through the admin API. Two
// teams: North Family Support, with Maya Okafor (manager), Amira Shah and Ben Doyle (workers);
// South Safeguarding, with Chen Liu (worker). Three children's cases: Jordan and Riley Ellis
// (siblings, one family) are Amira's, Sam Patel is Ben's. Development support only.
#pragma once

#include <algorithm>
#include <iterator>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "fieldsync/admin/admin_client.h"
#include "fieldsync/uuid.h"

namespace fieldsync::dev {

struct CouncilTeam {
  std::string_view id;
  std::string_view name;
};
struct CouncilPerson {
  std::string_view user_id;
  std::string_view team_id;
  std::string_view role;
  std::string_view name;
};

inline constexpr CouncilTeam kCouncilTeams[] = {{"north", "North Family Support"},
                                                {"south", "South Safeguarding"}};
inline constexpr CouncilPerson kCouncilPeople[] = {{"maya", "north", "manager", "Maya Okafor"},
                                                   {"amira", "north", "worker", "Amira Shah"},
                                                   {"ben", "north", "worker", "Ben Doyle"},
                                                   {"chen", "south", "worker", "Chen Liu"}};

struct CouncilCases {
  CaseId jordan;
  CaseId riley;
  CaseId sam;
};

// One of the council's people (by user id: "maya", "amira", "ben" or "chen"); throws
// std::invalid_argument for anyone else.
inline const CouncilPerson& council_person(std::string_view user_id) {
  const auto* person = std::find_if(std::begin(kCouncilPeople), std::end(kCouncilPeople),
                                    [&](const CouncilPerson& p) { return p.user_id == user_id; });
  if (person == std::end(kCouncilPeople))
    throw std::invalid_argument("nobody called '" + std::string(user_id) + "' in the council");
  return *person;
}

// Creates one of the council's people, whose team exists already.
inline void create_council_person(admin::AdminClient& admin, std::string_view user_id) {
  const CouncilPerson& person = council_person(user_id);
  admin.create_user(std::string(person.user_id), std::string(person.team_id),
                    std::string(person.role), std::string(person.name));
}

// Creates the council's people named by `user_ids` (everyone when it is empty) and the teams
// they belong to.
inline void create_council_people(admin::AdminClient& admin, std::vector<std::string_view> user_ids = {}) {
  if (user_ids.empty()) {
    for (const CouncilPerson& person : kCouncilPeople) user_ids.push_back(person.user_id);
  }
  for (const CouncilTeam& team : kCouncilTeams) {
    const bool needed = std::any_of(user_ids.begin(), user_ids.end(), [&](std::string_view id) {
      return council_person(id).team_id == team.id;
    });
    if (needed) admin.create_team(std::string(team.id), std::string(team.name));
  }
  for (const std::string_view user_id : user_ids) create_council_person(admin, user_id);
}

// The whole council: its teams, its people and its three cases (the siblings share a family_id;
// Sam was referred by his school).
inline CouncilCases set_up_council(admin::AdminClient& admin) {
  create_council_people(admin);
  const std::string family = Uuid::random_v4().to_string();
  CouncilCases cases;
  cases.jordan =
      admin.create_case("amira", {{"child_name", "Jordan Ellis"}, {"family_id", family}});
  cases.riley = admin.create_case("amira", {{"child_name", "Riley Ellis"}, {"family_id", family}});
  cases.sam = admin.create_case("ben", {{"child_name", "Sam Patel"}, {"referrer", "school"}});
  return cases;
}

}  // namespace fieldsync::dev
